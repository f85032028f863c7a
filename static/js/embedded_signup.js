// Login with Facebook (Embedded Signup). Meta's popup reports twice: a WA_EMBEDDED_SIGNUP
// message event (which account and number, or where the person cancelled) and FB.login's
// callback with a code that expires in 30 seconds. As soon as both are here, post them.
(function () {
  "use strict";
  const root = document.getElementById("embedded-signup");
  if (!root) return;
  const button = document.getElementById("signup-button");
  const pinInput = document.getElementById("signup-pin");
  const statusLine = document.getElementById("signup-status");
  const emulator = root.dataset.mode === "emulator";
  let session = null;
  let code = null;
  let sent = false;

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = kind ? "signup-" + kind : "";
  }

  function reset() {
    session = null;
    code = null;
    sent = false;
    button.disabled = false;
  }

  function post(body) {
    sent = true;
    say("Setting up your number…", "busy");
    fetch(root.dataset.postUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    })
      .then((response) => response.json())
      .then((result) => {
        if (result.redirect) {
          window.location.assign(result.redirect);
        } else {
          say((result.error && result.error.message) || "Setup failed.", "error");
          reset();
        }
      })
      .catch(() => {
        say("The server could not be reached. Check your connection and try again.", "error");
        reset();
      });
  }

  function maybeSubmit() {
    if (sent || !session) return;
    if (session.event === "CANCEL" || session.event === "ERROR") {
      post({ event: session.event, data: session.data || {} });
      return;
    }
    if (!code) return;
    const data = session.data || {};
    post({
      event: session.event,
      code: code,
      waba_id: data.waba_id || "",
      phone_number_id: data.phone_number_id || "",
      pin: pinInput ? pinInput.value.trim() : "",
    });
  }

  function onLogin(response) {
    if (response && response.authResponse && response.authResponse.code) {
      code = response.authResponse.code;
      maybeSubmit();
    } else if (!session) {
      say("The Facebook window was closed before finishing.", "error");
      reset();
    }
  }

  window.addEventListener("message", (event) => {
    const trusted = emulator
      ? event.origin === window.location.origin
      : /(^|\.)facebook\.com$/.test(new URL(event.origin).hostname);
    if (!trusted) return;
    let data = event.data;
    if (typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch (error) {
        return;
      }
    }
    if (!data || typeof data !== "object") return;
    if (data.type === "WA_EMBEDDED_SIGNUP") {
      session = data;
      maybeSubmit();
    } else if (emulator && data.type === "EMULATOR_FB_LOGIN") {
      onLogin(data);
    }
  });

  if (!emulator && root.dataset.appId) {
    window.fbAsyncInit = function () {
      window.FB.init({ appId: root.dataset.appId, autoLogAppEvents: true, xfbml: true, version: root.dataset.graphVersion });
    };
    const sdk = document.createElement("script");
    sdk.src = "https://connect.facebook.net/en_US/sdk.js";
    sdk.async = true;
    sdk.defer = true;
    sdk.crossOrigin = "anonymous";
    document.head.appendChild(sdk);
  }

  button.addEventListener("click", () => {
    if (pinInput && pinInput.value && !/^[0-9]{6}$/.test(pinInput.value.trim())) {
      say("The PIN is 6 digits.", "error");
      return;
    }
    reset();
    button.disabled = true;
    say("Waiting for the Facebook window…", "busy");
    if (emulator) {
      const url = root.dataset.popupUrl + "&origin=" + encodeURIComponent(window.location.origin);
      const popup = window.open(url, "wa_embedded_signup", "width=560,height=760");
      if (!popup) {
        say("Your browser blocked the popup. Allow popups for this site and try again.", "error");
        reset();
      }
    } else if (window.FB) {
      window.FB.login(onLogin, {
        config_id: root.dataset.configId,
        response_type: "code",
        override_default_response_type: true,
        extras: { setup: {} },
      });
    } else {
      say("Facebook's script has not loaded yet. Check that nothing blocks connect.facebook.net.", "error");
      reset();
    }
  });
})();
