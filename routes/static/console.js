// The console's only script (served from the app: the pages' CSP allows no inline script).
// Conveniences only; every page works without it: copy buttons for invitation tokens,
// selects that reload their form when changed, and a counter of the boxes ticked in a form
// that takes at most so many (the service refuses more anyway).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = "Copied";
        }, function () {
          button.textContent = "Select and copy";
        });
      } else {
        button.textContent = "Select and copy";
      }
    });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) { select.form.submit(); }
    });
  });
  document.querySelectorAll("form[data-limit]").forEach(function (form) {
    var limit = parseInt(form.getAttribute("data-limit"), 10);
    var counter = form.querySelector(".counter");
    if (!limit || !counter) { return; }
    var boxes = form.querySelectorAll("input[type=checkbox][name=resource]");
    function update() {
      var ticked = form.querySelectorAll("input[type=checkbox][name=resource]:checked").length;
      counter.hidden = false;
      counter.textContent = ticked + " of at most " + limit + " ticked";
      boxes.forEach(function (box) {
        if (!box.checked && !box.hasAttribute("data-refused")) { box.disabled = ticked >= limit; }
      });
    }
    boxes.forEach(function (box) {
      if (box.disabled) { box.setAttribute("data-refused", ""); }
      box.addEventListener("change", update);
    });
    update();
  });
});
