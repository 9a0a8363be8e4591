// The dashboard's script, served as /dashboard/app.js so that the pages' policy allows
// no inline script. Each part runs on the page that has its elements; values come from
// the pages' data- attributes, never from text interpolated into code.

// Forms that ask first: data-confirm holds the question (HTML-escaped by the template,
// read back as text, so a name cannot break out of it).
document.addEventListener("submit", e => {
  const question = e.target.dataset && e.target.dataset.confirm;
  if (question && !confirm(question)) e.preventDefault();
});

if (document.querySelector("tr[data-id]") || document.getElementById("clusters")) {
  // Live states and health: the listing's page's (its ?limit&marker), every 3 s.
  setInterval(async () => {
    const r = await fetch("/dashboard/states" + location.search, {headers: {"Accept": "application/json"}});
    if (!r.ok) return;
    const states = await r.json();
    for (const row of document.querySelectorAll("tr[data-id]")) {
      const live = states[row.dataset.id] || {state: "deleted", health: null};
      const cell = row.querySelector("[data-state]");
      cell.textContent = live.state;
      cell.className = "state state-" + live.state;
      const health = row.querySelector("[data-health]");
      health.textContent = live.health || "-";
      health.className = "health health-" + (live.health || "-");
    }
  }, 3000);
}

if (document.getElementById("tasks")) {
  // The task tree and state, live from the cluster's event stream.
  const body = document.querySelector("#tasks tbody");
  function rows(task, depth, out) {
    out.push([depth, task]);
    for (const c of task.children || []) rows(c, depth + 1, out);
    return out;
  }
  function secs(t) {
    if (!t.started_at || !t.ended_at) return "";
    return ((Date.parse(t.ended_at) - Date.parse(t.started_at)) / 1000).toFixed(1) + "s";
  }
  // What a step not finished is expected to take, as the CLI writes it: ~42s, ~2m10s.
  function expected(t) {
    if (t.expected_secs == null) return "";
    if (t.expected_secs < 9.95) return "~" + Math.max(t.expected_secs, 0).toFixed(1) + "s";
    const s = Math.round(t.expected_secs);
    if (s < 60) return "~" + s + "s";
    if (s < 3600) return "~" + Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    return "~" + Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  }
  function draw(task) {
    body.replaceChildren(...rows(task, 0, []).map(([depth, t]) => {
      const tr = document.createElement("tr");
      const label = (t.number ? t.number + " " : "") + t.name;
      for (const [text, cls] of [[label, ""], [t.status === "pending" ? "" : t.status, "status-" + t.status], [t.node || "", ""], [secs(t), ""], [expected(t), ""]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      tr.firstChild.style.paddingLeft = (0.6 + depth * 1.2) + "rem";
      return tr;
    }));
  }
  // Parts of the page as the server draws them now (escaped there), in place.
  function refresh(ids) {
    fetch(location.href).then(r => r.text()).then(html => {
      const page = new DOMParser().parseFromString(html, "text/html");
      for (const id of ids) {
        const fresh = page.getElementById(id);
        if (fresh) document.getElementById(id).replaceWith(fresh);
      }
    });
  }
  // The timeline, as the server draws it (#timeline's data-src): again when the task
  // changes, and every few seconds while it runs, so that the running bar grows. One
  // fetch at a time; a change meanwhile fetches once more after it.
  let fetching = false, again = false;
  async function redrawTimeline() {
    const shown = document.getElementById("timeline");
    if (!shown) return;
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const r = await fetch(shown.dataset.src, {headers: {"Accept": "text/html"}});
      if (r.ok) {
        const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("timeline");
        const now = document.getElementById("timeline");
        // Failures the reader opened stay open.
        const open = new Set([...now.querySelectorAll("details[open]")].map(d => d.closest("li").dataset.node + d.closest("li").querySelector(".tl-stage").textContent));
        if (fresh) {
          for (const d of fresh.querySelectorAll("details")) {
            const li = d.closest("li");
            if (open.has(li.dataset.node + li.querySelector(".tl-stage").textContent)) d.open = true;
          }
          now.replaceWith(fresh);
        }
      }
    } finally {
      fetching = false;
      if (again) { again = false; redrawTimeline(); }
    }
  }
  setInterval(() => {
    const shown = document.getElementById("timeline");
    if (shown && shown.dataset.running === "true") redrawTimeline();
  }, 5000);
  // The stream follows the cluster (?follow=true) until it is deleted: every task, and
  // every change of its health.
  const events = new EventSource(document.getElementById("tasks").dataset.events);
  let firstTasks = true;
  events.addEventListener("tasks", e => {
    draw(JSON.parse(e.data));
    // The page came with the timeline as it was: the first event redraws it only if
    // the page is older than the stream.
    if (!firstTasks || document.getElementById("timeline").dataset.running === "true") redrawTimeline();
    firstTasks = false;
  });
  events.addEventListener("state", e => {
    const s = JSON.parse(e.data);
    const el = document.getElementById("state");
    const before = el.textContent;
    el.textContent = s.state; el.className = "state state-" + s.state;
    document.getElementById("reason").textContent = s.reason;
    if (s.state === before) return;
    // Addresses and web UIs are known once the cluster is ready; the repair button is
    // for a ready cluster only.
    refresh(s.state === "ready" ? ["external-ip", "web-uis", "health"] : ["health"]);
  });
  events.addEventListener("health", e => {
    const h = JSON.parse(e.data);
    const shown = document.getElementById("health").dataset;
    if (h && h.status === shown.status && h.reason === shown.reason) return;
    refresh(["health"]);
  });
  events.addEventListener("end", () => events.close());
}

if (document.getElementById("create")) {
  // Choosing a component chooses what it depends on, and says so; parameters show for
  // chosen components only.
  const boxes = [...document.querySelectorAll("input[name=component]")];
  const byName = Object.fromEntries(boxes.map(b => [b.value, b]));
  function refresh(changed) {
    const added = [];
    let again = true;
    while (again) {
      again = false;
      for (const b of boxes) {
        if (!b.checked) continue;
        for (const d of (b.dataset.depends || "").split(",").filter(Boolean)) {
          if (byName[d] && !byName[d].checked) { byName[d].checked = true; added.push(d + " (needed by " + b.value + ")"); again = true; }
        }
      }
    }
    if (added.length) document.getElementById("deps-note").textContent = "Also selected: " + added.join(", ") + ".";
    for (const b of boxes) document.querySelector(`.params[data-for="${b.value}"]`).hidden = !b.checked;
  }
  boxes.forEach(b => b.addEventListener("change", () => refresh(b)));
  refresh();
}
