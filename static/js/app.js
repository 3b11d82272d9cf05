// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";

  // Language selector: submit as soon as a language is picked (the <noscript> button covers no-JS).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });

  // Irreversible actions (e.g. cancelling a consultation) ask for confirmation first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
})();
