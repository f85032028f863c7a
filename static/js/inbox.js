// Keeps an open conversation scrolled to its latest message, unless staff scrolled up to read.
(function () {
  "use strict";
  var NEAR_BOTTOM_PX = 80;
  var stickToBottom = true;

  function chat() {
    return document.querySelector(".conversation-chat");
  }

  function toBottom() {
    var box = chat();
    if (box) {
      box.scrollTop = box.scrollHeight;
    }
  }

  document.addEventListener("DOMContentLoaded", toBottom);
  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = chat();
    if (box && event.detail.target && event.detail.target.id === "conversation-live") {
      stickToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "conversation-live" && stickToBottom) {
      toBottom();
    }
  });
})();
