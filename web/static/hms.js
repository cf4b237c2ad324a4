// HMS page behaviour. No inline scripts anywhere (the CSP forbids them); everything lives here.
(function () {
  "use strict";

  // Forms that change something important ask first: <form data-confirm="Really disable?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    }
  }, true);

  // After HTMX replaces the main area, move focus there so keyboard and screen-reader users
  // continue from the new content.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "main") {
      var heading = target.querySelector("h1");
      (heading || target).setAttribute("tabindex", "-1");
      (heading || target).focus();
    }
  });

  // A double click must not submit a form twice (slow networks): disable the button once sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) {
      return;
    }
    var buttons = form.querySelectorAll("button[type=submit]");
    window.setTimeout(function () {
      buttons.forEach(function (b) { b.disabled = true; });
    }, 0);
  });
})();

// Back/forward cache restores a page as it was left: re-enable buttons disabled on submit.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("button[type=submit][disabled]").forEach(function (b) {
    b.disabled = false;
  });
});

// <button data-print> prints the page (reports).
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.closest("[data-print]")) {
    window.print();
  }
});

// The menu button of narrow screens opens and closes the menu and the top bar's buttons;
// Escape closes them and returns to the button.
(function () {
  "use strict";
  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    document.body.classList.toggle("menu-open", open);
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("#menu-button");
    if (button) {
      setOpen(button, button.getAttribute("aria-expanded") !== "true");
    }
  });
  document.addEventListener("keydown", function (event) {
    var button = document.getElementById("menu-button");
    if (event.key === "Escape" && button && button.getAttribute("aria-expanded") === "true") {
      setOpen(button, false);
      button.focus();
    }
  });
})();
