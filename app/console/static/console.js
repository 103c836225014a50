// The overview's progress bars: while a library lists its folder, ask the service once a
// second how far it has come; when every listing has ended, load the page again.
"use strict";

(function () {
  const libraries = document.querySelectorAll("article.library");
  if (!Array.prototype.some.call(libraries, (el) => el.dataset.syncing === "yes")) {
    return;
  }
  async function poll() {
    let report;
    try {
      const reply = await fetch("/console/progress", { credentials: "same-origin" });
      if (!reply.ok) return;
      report = (await reply.json()).libraries;
    } catch (error) {
      return;
    }
    let running = false;
    for (const el of libraries) {
      const state = report[el.dataset.library];
      if (!state) continue;
      running = running || state.syncing;
      show(el, state);
    }
    if (running) {
      setTimeout(poll, 1000);
    } else {
      window.location.reload();
    }
  }
  function show(el, state) {
    const box = el.querySelector(".progress");
    if (!box) return;
    box.hidden = state.entries === undefined;
    if (box.hidden) return;
    const bar = box.querySelector("progress");
    if (state.percent === null) bar.removeAttribute("value");
    else bar.value = state.percent;
    box.querySelector(".numbers").textContent =
      state.entries + " entries, " + state.pages + " pages, " + state.rate + "/s";
  }
  setTimeout(poll, 1000);
})();
