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

// The channel page: its counts follow the service's events (/console/channels/NAME/events),
// and when they change the page is fetched again and its grid (and its rotation at a
// glance) put in place, no reload.
(function () {
  const live = document.querySelector(".live[data-events]");
  if (!live || typeof EventSource === "undefined") {
    return;
  }
  let version = live.dataset.version;
  let busy = false;
  let again = false;
  const events = new EventSource(live.dataset.events);
  events.onmessage = (message) => {
    let counts;
    try {
      counts = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    for (const el of live.querySelectorAll("[data-count]")) {
      const value = counts[el.dataset.count];
      if (value !== undefined) el.textContent = value;
    }
    if (counts.version !== version) {
      version = counts.version;
      live.dataset.version = version;
      refresh();
    }
  };
  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const reply = await fetch(window.location.href, { credentials: "same-origin" });
      if (reply.ok) {
        const page = new DOMParser().parseFromString(await reply.text(), "text/html");
        const fresh = page.querySelector(".live .pictures");
        const shown = live.querySelector(".pictures");
        if (fresh && shown) shown.replaceWith(document.adoptNode(fresh));
        const rotation = page.querySelector("section.rotation");
        const was = document.querySelector("section.rotation");
        if (rotation && was) was.replaceWith(document.adoptNode(rotation));
      }
    } catch (error) {
      // the next change tries again
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }
})();
