// Page behaviours that were inline event handlers (a Content-Security-Policy forbids those):
// declared in the templates with data- attributes, wired here once.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    const toggle = e.target.closest("[data-toggle-nav]");
    if (toggle) document.body.classList.toggle("nav-open");
    // One menu group open at a time; a click elsewhere closes it.
    document.querySelectorAll("details.navgroup[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.open = false;
    });
  });
  document.addEventListener("submit", function (e) {
    const form = e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });
  document.addEventListener("change", function (e) {
    const field = e.target;
    if (field.matches("[data-autosubmit]") && field.form) field.form.submit();
    const sync = field.closest("[data-sync-into]");
    if (sync) {
      const target = document.getElementById(sync.dataset.syncInto);
      const picked = document.querySelectorAll('input[name="' + field.name + '"]:checked');
      if (target) target.value = Array.from(picked).map(function (el) { return el.value; }).join(",");
    }
  });
})();
