/* The emulator's stand-in Embedded Signup popup.
 *
 * On the result page, post what Meta's popup and FB.login would hand the opener, then close:
 * first the session-info event as a JSON string (as Meta sends it), then an object standing in
 * for FB.login's callback argument. Data comes from data- attributes (the CSP allows no inline
 * script). On the consent page, closing the window without answering tells the opener that
 * login ended with no authResponse, as FB.login's callback would.
 */
(function () {
  "use strict";

  var result = document.getElementById("signup-result");
  if (result) {
    var origin = result.dataset.origin;
    var status = document.getElementById("signup-status");
    if (!window.opener) {
      if (status) status.textContent = "No page opened this window, so there is no one to tell. You can close it.";
      return;
    }
    window.opener.postMessage(result.dataset.sessionInfo, origin);
    window.opener.postMessage(JSON.parse(result.dataset.login), origin);
    if (status) status.textContent = "Done. You can close this window.";
    window.close();
    return;
  }

  var form = document.getElementById("signup-form");
  if (form) {
    var answered = false;
    form.addEventListener("submit", function () { answered = true; });
    var abandon = function () {
      if (answered || !window.opener) return;
      answered = true;
      window.opener.postMessage({ type: "EMULATOR_FB_LOGIN", authResponse: null }, form.dataset.origin);
    };
    window.addEventListener("beforeunload", abandon);
    window.addEventListener("pagehide", abandon);
  }
})();
