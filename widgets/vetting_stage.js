// The vetting panel's candidate stage (see widgets/vetting_stage.py).
//
// The kernel sends "slides" ahead: for the candidate shown and the next few, the HTML of
// header, badges and cutouts, the legend line and the light curve's view row. A key that
// moves on (n, ArrowRight, s, r) shows the next slide here at once, and the kernel is told
// afterwards which candidate the scanner was looking at when the key was pressed; the
// kernel acts on that candidate only if it is still its current one. The kernel stays
// the authority: once it has handled every key sent, the candidate it names is shown.

const ADVANCE = new Set(["n", "N", "ArrowRight", "s", "S", "r", "R"]);
const MODIFIERS = new Set(["Shift", "Control", "Alt", "Meta", "CapsLock", "AltGraph"]);
const RETRY_FRAMES = 600; // about 10 s of frames for a view built after the stage

const panels = new Map(); // one state per widget model (several views may show it)

function stateOf(model) {
  const uid = model.get("uid");
  if (!panels.has(uid)) {
    panels.set(uid, {
      slides: new Map(), // obj_id -> slide, in arrival order
      chain: [], // the candidate shown by the kernel, then what each advance shows
      current: "",
      ack: 0, // the last key the kernel has handled
      seq: 0, // the last key sent
      // keys sent whose outcome the page cannot foresee (back, undo, classify...), not yet
      // handled: until they are, keys wait for the kernel and follow whatever it shows
      unforeseen: [],
      mode: "",
      canSave: false,
      displayed: null, // obj_id on screen ("" for the empty queue)
      views: new Set(),
      // what happened to each advancing key: shown from a slide, or why it waited for the
      // kernel (read by benchmarks/bench_vetting_browser.py through window.__wbStage)
      stats: { fromSlide: 0, waited: {} },
      queued: [], // keys not yet sent to the kernel (in order)
      front: 0, // the light-curve figure shown (the others are drawn ahead)
      frontToken: "", // the slide whose curve it shows
      preloads: 0,
      commentSeq: 0, // the last "m" sent (the comment mode focuses a text box)
    });
    window.__wbStage = panels;
  }
  return panels.get(uid);
}

function keepRecent(slides, limit) {
  while (slides.size > limit) {
    slides.delete(slides.keys().next().value);
  }
}

const detached = new WeakMap(); // BokehJS document -> its change callbacks, set aside

// Run fn with the document's change callbacks (jupyter_bokeh's sync to the kernel) set
// aside. BokehJS runs a CustomJS asynchronously (in a microtask), so they come back in a
// later task, after the figure's CustomJS has applied what fn set.
function quietly(doc, fn) {
  let entry = detached.get(doc);
  if (!entry) {
    entry = { callbacks: doc._callbacks, pending: 0 };
    detached.set(doc, entry);
    doc._callbacks = new Map();
  }
  entry.pending += 1;
  try {
    fn();
  } finally {
    setTimeout(() => {
      entry.pending -= 1;
      if (entry.pending === 0) {
        doc._callbacks = entry.callbacks;
        detached.delete(doc);
      }
    }, 0);
  }
}

// The connected BokehJS root views of one figure (one per view of the panel in the page).
function figureViews(figureId) {
  const Bokeh = window.Bokeh;
  const views = [];
  for (const view of (Bokeh && Bokeh.index) || []) {
    if (view.model.id === figureId && view.el.isConnected) {
      views.push(view);
    }
  }
  return views;
}

// Put a slide's view row into light-curve figure `index` (each of its views); the figure's
// own CustomJS applies it (points, ranges, note). Nothing is synced back: the kernel keeps
// its own copy, and each message to the kernel costs the page a busy/idle round. False
// while the figure has no view yet.
function loadCurve(model, index, slide) {
  const sourceId = model.get("view_source_ids")[index];
  let loaded = false;
  for (const view of figureViews(model.get("figure_ids")[index])) {
    if (view.__wbToken !== slide.token) {
      const doc = view.model.document;
      const source = doc && doc.get_model_by_id(sourceId);
      if (!source) {
        continue;
      }
      quietly(doc, () => source.setv({ data: slide.curve }, { check_eq: false }));
      view.__wbToken = slide.token;
    }
    loaded = true;
  }
  return loaded;
}

function holds(model, index, token) {
  const views = figureViews(model.get("figure_ids")[index]);
  return views.length > 0 && views.every((view) => view.__wbToken === token);
}

// Show figure `index` and hide the others (hidden ones keep their size, so BokehJS still
// draws into them).
function showFigure(model, st, index, token) {
  st.front = index;
  st.frontToken = token;
  for (const el of st.views) {
    const area = el.closest(".wb-candidate-area");
    model.get("figure_ids").forEach((_, i) => {
      const box = area && area.querySelector(`.wb-lc-plot-${i}`);
      if (box) {
        box.style.visibility = i === index ? "visible" : "hidden";
      }
    });
  }
}

// The slide's light curve on screen: the figure that already holds it is shown (drawn
// ahead, while the scanner looked at the one before), else it is drawn into the one shown.
function presentCurve(model, st, slide, frames = RETRY_FRAMES) {
  const count = model.get("figure_ids").length;
  let index = [...Array(count).keys()].find((i) => holds(model, i, slide.token));
  if (index === undefined) {
    index = st.front;
    if (!loadCurve(model, index, slide)) {
      if (frames > 0 && st.displayed === slide.obj_id) {
        requestAnimationFrame(() => presentCurve(model, st, slide, frames - 1));
      }
      return; // the plot's view is not built yet
    }
  }
  showFigure(model, st, index, slide.token);
  preloadNext(model, st);
}

// After the next paint, draw the candidate an advance shows next into a hidden figure.
function preloadNext(model, st) {
  const count = model.get("figure_ids").length;
  const serial = ++st.preloads;
  if (count < 2) {
    return;
  }
  requestAnimationFrame(() =>
    setTimeout(() => {
      const next = nextInChain(st);
      if (serial === st.preloads && next !== null) {
        loadCurve(model, (st.front + 1) % count, st.slides.get(next));
      }
    }, 0),
  );
}

// The slide's HTML parsed once, on arrival, and its cutouts decoded then: showing it later
// moves this node into the page (no parsing, no decoding while the scanner waits).
function prepareNode(slide) {
  const node = document.createElement("div");
  node.innerHTML = slide.html;
  for (const img of node.querySelectorAll("img")) {
    img.decode().catch(() => null); // a broken image shows as broken; nothing to wait for
  }
  slide.node = node;
}

function legendHosts(el) {
  const area = el.closest(".wb-candidate-area");
  return area ? area.querySelectorAll(".wb-lc-legend-host .widget-html-content") : [];
}

function drawView(el, slide) {
  const main = el.querySelector(".wb-stage-main");
  const node = slide.node;
  if (node && (node.parentNode === null || node.parentNode === main)) {
    main.replaceChildren(node);
  } else {
    main.innerHTML = slide.html; // a second view of the same panel: its own copy
  }
  el.dataset.token = slide.token;
  const legend = (frames) => {
    const hosts = el.isConnected ? legendHosts(el) : [];
    hosts.forEach((host) => {
      host.innerHTML = slide.legend_html;
    });
    if (hosts.length === 0 && frames > 0 && el.dataset.token === slide.token) {
      requestAnimationFrame(() => legend(frames - 1)); // not in the page yet
    }
  };
  legend(RETRY_FRAMES);
}

// Show the slide of objId ("": the end of the queue) in every view; false if not sent yet.
function show(model, st, objId) {
  const slide = st.slides.get(objId);
  if (!slide) {
    return false;
  }
  st.displayed = objId;
  st.displayedToken = slide.token;
  for (const el of st.views) {
    drawView(el, slide);
  }
  presentCurve(model, st, slide);
  return true;
}

function onMessage(model, st, msg) {
  if (msg.type !== "state") {
    return;
  }
  for (const slide of msg.slides) {
    st.slides.delete(slide.obj_id); // re-inserted last: the kernel keeps the same order
    st.slides.set(slide.obj_id, slide);
    prepareNode(slide);
  }
  keepRecent(st.slides, msg.keep);
  st.chain = msg.chain;
  st.current = msg.current;
  st.ack = msg.ack;
  if (st.mode === "comment" && msg.mode === "") {
    releaseCommentBox(st); // the comment was posted or cancelled: keys are the panel's again
  }
  st.mode = msg.mode;
  st.canSave = msg.can_save;
  st.unforeseen = st.unforeseen.filter((s) => s > st.ack);
  const settled = st.ack >= st.seq; // every key sent has been handled: the kernel's word is final
  const slide = st.slides.get(st.current);
  const stale = slide && st.displayed === st.current && slide.token !== st.displayedToken;
  if (settled && (st.displayed !== st.current || stale)) {
    show(model, st, st.current);
  }
}

function nextInChain(st) {
  const at = st.chain.indexOf(st.displayed);
  if (at < 0 || at + 1 >= st.chain.length) {
    return null;
  }
  const next = st.chain[at + 1];
  return st.slides.has(next) ? next : null;
}

function pressKey(model, st, key) {
  const obj = st.displayed || "";
  const seq = ++st.seq;
  let shown = obj;
  // after a key whose outcome is not known yet, the candidate on screen is not the one
  // this key will act on: it acts on the kernel's (as typed, in order)
  const follow = st.unforeseen.length > 0;
  const isSave = key === "s" || key === "S";
  if (ADVANCE.has(key)) {
    let why = follow ? "after back/undo/mode" : st.mode !== "" ? "mode" : null;
    why = why === null && isSave && !st.canSave ? "no save group" : why;
    if (why === null) {
      const next = nextInChain(st);
      if (next !== null && show(model, st, next)) {
        shown = next;
      } else {
        why = st.chain.indexOf(st.displayed) < 0 ? "not in chain" : "chain ended";
      }
    }
    if (why === null) {
      st.stats.fromSlide += 1;
    } else {
      st.stats.waited[why] = (st.stats.waited[why] || 0) + 1;
    }
  }
  if (shown === obj) {
    st.unforeseen.push(seq);
  }
  if ((key === "m" || key === "M") && st.mode === "") {
    st.commentSeq = seq;
  }
  const message = { type: "key", key, obj, seq, shown, follow };
  if (shown !== obj) {
    // Told after the next candidate is painted: the kernel's busy/idle round and its
    // answer would otherwise be handled by the page before that frame.
    st.queued.push(message);
    requestAnimationFrame(() => setTimeout(() => flushKeys(model, st), 0));
  } else {
    st.queued.push(message);
    flushKeys(model, st); // keys keep their order: any deferred one goes first
  }
}

function flushKeys(model, st) {
  for (const message of st.queued.splice(0)) {
    model.send(message);
  }
}

// The comment mode focused the panel's comment box; when it ends, that focus goes.
function releaseCommentBox(st) {
  const active = document.activeElement;
  for (const el of st.views) {
    const panel = el.closest(".wb-vetting");
    if (active && isTextInput(active) && panel && panel.contains(active)) {
      active.blur();
    }
  }
}

// An "m" sent and not yet handled: the kernel is entering the comment mode.
function commentKeyPending(st) {
  return st.commentSeq > st.ack;
}

function isTextInput(target) {
  if (!target || !target.tagName) {
    return false;
  }
  const tag = target.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
}

// Keys act on the panel while the mouse is over its candidate area, or after a click on
// it until a click elsewhere; they never reach JupyterLab then (no notebook command runs).
function listenForKeys(model, st, el) {
  let hovered = false;
  let armed = false;
  let area = null;
  const onEnter = () => {
    hovered = true;
  };
  const onLeave = () => {
    hovered = false;
  };
  const onDown = (event) => {
    armed = area !== null && area.contains(event.target) && !isTextInput(event.target);
  };
  const onKey = (event) => {
    // A text box with the focus keeps its keys, except in the comment mode (m): that
    // focuses the panel's own comment box, and its keys (Enter posts, Escape cancels) are
    // the panel's. A click into a text box disarms the panel.
    const typing = isTextInput(event.target) && st.mode !== "comment" && !commentKeyPending(st);
    if (!(hovered || armed) || !el.isConnected || typing) {
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || MODIFIERS.has(event.key)) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    pressKey(model, st, event.key);
  };
  const attach = (frames) => {
    area = el.isConnected ? el.closest(".wb-candidate-area") : null;
    if (area === null) {
      if (frames > 0) {
        requestAnimationFrame(() => attach(frames - 1));
      }
      return;
    }
    area.addEventListener("mouseenter", onEnter);
    area.addEventListener("mouseleave", onLeave);
    hovered = area.matches(":hover");
  };
  attach(RETRY_FRAMES);
  document.addEventListener("mousedown", onDown, true);
  document.addEventListener("keydown", onKey, true);
  return () => {
    document.removeEventListener("mousedown", onDown, true);
    document.removeEventListener("keydown", onKey, true);
    if (area !== null) {
      area.removeEventListener("mouseenter", onEnter);
      area.removeEventListener("mouseleave", onLeave);
    }
  };
}

function initialize({ model }) {
  const st = stateOf(model);
  model.on("msg:custom", (msg) => onMessage(model, st, msg));
  model.send({ type: "hello" });
}

function render({ model, el }) {
  const st = stateOf(model);
  el.classList.add("wb-stage");
  el.innerHTML = "<div class='wb-stage-main'></div>";
  st.views.add(el);
  const slide = st.displayed !== null ? st.slides.get(st.displayed) : null;
  if (slide) {
    drawView(el, slide); // a new view of a panel already on screen elsewhere
    presentCurve(model, st, slide);
  }
  const stopKeys = listenForKeys(model, st, el);
  return () => {
    st.views.delete(el);
    stopKeys();
  };
}

export default { initialize, render };
