// The latent explorer of the book site: the decoder runs in the page (onnxruntime-web, wasm, one
// thread). Every slider move is decoded and drawn, in order: moves queue, none is dropped or merged.
// window.vaeExplorer exposes the state for the site's browser test and the latency benchmark.
(function () {
  "use strict";
  const root = document.getElementById("vae-explorer");
  if (!root || typeof ort === "undefined") return;
  const base = new URL(root.dataset.base || "_static/", document.baseURI).href;
  ort.env.wasm.numThreads = 1;          // no cross-origin isolation needed on a static host
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = base + "ort/";

  const $ = (id) => document.getElementById(id);
  const api = { timings: [], inputs: 0, renders: 0, z: null };
  let data, session, sliders = [], queue = Promise.resolve(), mapBackground, mapBox;

  async function decode(z) {
    const input = new ort.Tensor("float32", Float32Array.from(z), [1, data.latent_dim]);
    const out = await session.run({ z: input });
    return out.image.data;              // (1, C, H, W) in [-1, 1]
  }

  function paint(pixels) {
    const [c, h, w] = data.image_shape, canvas = $("vx-image"), ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h), plane = h * w;
    for (let i = 0; i < plane; i++) {
      for (let k = 0; k < 3; k++) {
        const v = pixels[(c === 3 ? k : 0) * plane + i];
        img.data[4 * i + k] = Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
      }
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function project(z) {
    const p = data.pca;
    return p.components.map((row) => row.reduce((s, v, d) => s + v * (z[d] - p.mean[d]), 0));
  }

  function toMap([a, b]) {
    const { x0, x1, y0, y1, size } = mapBox;
    return [8 + (a - x0) / (x1 - x0) * (size - 16), size - 8 - (b - y0) / (y1 - y0) * (size - 16)];
  }

  function drawMapBackground() {
    const canvas = $("vx-map"), size = canvas.width;
    const xs = data.points.map((p) => p[0]), ys = data.points.map((p) => p[1]);
    mapBox = { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys), size };
    mapBackground = document.createElement("canvas");
    mapBackground.width = mapBackground.height = size;
    const ctx = mapBackground.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    ctx.globalAlpha = 0.55;
    for (const [a, b, c] of data.points) {
      const [x, y] = toMap([a, b]);
      ctx.fillStyle = data.colors[c];
      ctx.fillRect(x - 1, y - 1, 2.5, 2.5);
    }
  }

  function drawMap(z) {
    const ctx = $("vx-map").getContext("2d");
    ctx.drawImage(mapBackground, 0, 0);
    const [x, y] = toMap(project(z));
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }

  // Draw code z; t0 (performance.now() time of the input event) records the move's latency.
  function show(z, t0) {
    const code = Float32Array.from(z);
    queue = queue.then(async () => {
      paint(await decode(code));
      drawMap(code);
      api.renders += 1;
      if (t0 !== undefined) api.timings.push(performance.now() - t0);
    });
    return queue;
  }

  function setCode(z) {
    api.z = Float32Array.from(z);
    sliders.forEach(({ input, dim }) => { input.value = api.z[dim]; });
    return show(api.z);
  }

  function buildControls() {
    const select = $("vx-start");
    data.classes.forEach((name, c) => select.add(new Option(name, String(c))));
    select.addEventListener("change", () => setCode(data.starts[Number(select.value)]));
    $("vx-reset").addEventListener("click", () => setCode(data.starts[Number(select.value)]));
    $("vx-random").addEventListener("click", () => {
      const z = new Float32Array(data.latent_dim);
      for (let d = 0; d < z.length; d++) {   // N(0, 1) by Box-Muller
        z[d] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
      }
      setCode(z);
    });
    $("vx-legend").innerHTML = data.classes.map((name, c) =>
      `<span style="color:${data.colors[c]}">&#9679;</span> ${name}`).join("<br>");
    const box = $("vx-sliders");
    for (const dim of data.order) {
      const sd = data.spread[dim], centre = data.centre[dim];
      const label = document.createElement("label");
      label.style.display = "flex";
      label.style.alignItems = "center";
      label.style.gap = "0.5em";
      label.innerHTML = `<code style="min-width:3.2em">z[${dim}]</code>`;
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: centre - 3 * sd, max: centre + 3 * sd, step: sd / 50 });
      input.dataset.dim = String(dim);
      input.style.flex = "1";
      input.addEventListener("input", (event) => {
        api.inputs += 1;
        api.z[dim] = Number(input.value);
        show(api.z, event.timeStamp);
      });
      label.appendChild(input);
      box.appendChild(label);
      sliders.push({ input, dim });
    }
  }

  api.ready = (async () => {
    try {
      [data, session] = await Promise.all([
        fetch(base + "explorer/explorer.json").then((r) => r.json()),
        ort.InferenceSession.create(base + "explorer/decoder.onnx", { executionProviders: ["wasm"] }),
      ]);
      drawMapBackground();
      buildControls();
      await setCode(data.starts[0]);
      $("vx-status").textContent = `decoder loaded (${data.checkpoint}, latent ${data.latent_dim})`;
    } catch (err) {
      $("vx-status").textContent = `the explorer could not start: ${err}`;
      throw err;
    }
  })();
  api.decode = async (z) => Array.from(await decode(z));
  api.setCode = setCode;
  api.data = () => data;
  window.vaeExplorer = api;
})();
