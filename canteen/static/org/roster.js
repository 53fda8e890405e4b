// Confirm an import without leaving the page, and show its progress while it runs: the import
// commits every 5,000 rows, and the progress address reports how far it got.
(function () {
  const form = document.getElementById("confirm-form");
  if (!form) return;
  const bar = document.getElementById("import-progress");
  const text = document.getElementById("import-progress-text");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    data.set("dry_run", event.submitter && event.submitter.value === "1" ? "1" : "0");
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    bar.hidden = false;
    const poll = setInterval(async () => {
      try {
        const r = await fetch(form.dataset.progress, { credentials: "same-origin" });
        const p = await r.json();
        bar.max = p.rows_total || 1;
        bar.value = p.rows_done;
        text.textContent = `${p.rows_done} / ${p.rows_total}`;
      } catch (e) { /* the next poll tries again */ }
    }, 700);
    try {
      await fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } });
    } finally {
      clearInterval(poll);
      window.location.reload();
    }
  });
})();
