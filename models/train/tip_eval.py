"""Tip (working-end) visibility of the bundled vision model, evaluated on the eye labels in
`models/train/labels/tip_visibility.csv`, and the per-class rule the app applies.

For every labelled tool instance whose working end was judged visible or hidden, the model is
run on the whole frame (as the app runs it) and the instance is scored two ways:

* `box`: the tip map's peak inside the labelled box (a few map pixels of margin): what the tip
  head says about this tool, whether or not the app's instrument threshold found it;
* `app`: the `tip_score` of the app's own instance that overlaps the labelled box most
  (IoU >= 0.1), over the instances the app found: what the window would show.

The alarm is "tip hidden", so hidden is the positive class: sensitivity = hidden tips flagged,
specificity = visible tips not flagged (1 - specificity is the false-alarm rate a surgeon sees).
AUROC and specificity at 95% sensitivity are reported per class with 95% intervals from a
bootstrap over videos (the split unit: instances of one video are not independent).

The rule (written to `models/tip-rules/<model id>.toml` with `--write-rule`): a class is
validated when it has at least MIN_HIDDEN hidden and MIN_VISIBLE visible instances and, at the
class's threshold (the highest tip score that still keeps the measured false-alarm rate at or
under MAX_FALSE_ALARM), the bootstrap's lower 95% bound of specificity is at least
MIN_SPECIFICITY_LOW, the threshold still catches at least MIN_SENSITIVITY of the hidden tips,
and the AUROC's lower 95% bound is above 0.5 (better than chance). Every other class gets no
badge and no tip-hidden episodes.

    PYTHONPATH=$PWD/app:$PWD python -m models.train.tip_eval [--write-rule] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from models.train.tip_labels import LABELS, REPO, data_root, read_clip_frame, source_box

RULES_DIR = REPO / "models" / "tip-rules"
MIN_HIDDEN = 10
MIN_VISIBLE = 20
MAX_FALSE_ALARM = 0.05
MIN_SPECIFICITY_LOW = 0.85
MIN_SENSITIVITY = 0.5  # a badge that misses most hidden tips tells the surgeon nothing
BOOTSTRAP = 1000
SEED = 0


@dataclass
class Instance:
    id: str
    source: str
    video: str
    image: str
    tool_class: str
    box: tuple[float, float, float, float]
    hidden: bool


def read_labels(path: Path = LABELS) -> list[Instance]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for r in rows:
        if r["working_end"] not in ("visible", "hidden", "out_of_frame"):
            continue
        if r["x1"]:
            box = (float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"]))
        else:  # a dataset's own box, read from the data (see tip_labels.source_box)
            box = source_box(r["source"], r["image"], int(r["object"]))
        found.append(
            Instance(
                r["id"],
                r["source"],
                r["video"],
                r["image"],
                r["tool_class"],
                box,
                r["working_end"] != "visible",
            )
        )
    return found


_PREFIX = {
    "m2cai16:": "m2cai16_tool_locations/JPEGImages/",
    "cholec80:": "cholec80_clips/",
    "endovis15_rigid:": "endovis15/rigid_training/",
}


def load_frame(image: str) -> np.ndarray:
    import cv2

    for prefix, folder in _PREFIX.items():
        if image.startswith(prefix):
            image = folder + image[len(prefix) :]
    root = data_root()
    if "@" in image:
        path, seconds = image.rsplit("@", 1)
        return read_clip_frame(root / path, float(seconds))
    bgr = cv2.imread(str(root / image))
    if bgr is None:
        raise SystemExit(f"error: {root / image}: cannot be read")
    return bgr[..., ::-1].copy()


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_instances(instances: list[Instance], model_id: str) -> dict[str, dict[str, float]]:
    """Per instance: `box` (tip-map peak in the labelled box) and `app` (matched instance's
    tip_score); the model runs once per frame."""
    import cv2

    from scrubline.core.models.registry import load_registry
    from scrubline.core.models.wrappers import load_model

    manifest = load_registry().get(model_id)
    model = load_model(manifest)
    scores: dict[str, dict[str, float]] = {}
    by_image: dict[str, list[Instance]] = {}
    for inst in instances:
        by_image.setdefault(inst.image, []).append(inst)
    for image, group in by_image.items():
        rgb = load_frame(image)
        h, w = rgb.shape[:2]
        resized = cv2.resize(rgb, model.input_size, interpolation=cv2.INTER_AREA)
        outputs = model._run(model.to_tensor([resized]))
        result = model.interpret(outputs, 0, (w, h))
        tip = outputs.get("tip_map")
        for inst in group:
            entry: dict[str, float] = {}
            if tip is not None:
                plane = np.asarray(tip[0]).reshape(tip.shape[-2], tip.shape[-1])
                mh, mw = plane.shape
                x1, y1, x2, y2 = inst.box
                c1 = max(0, int(x1 / w * mw) - 2)
                r1 = max(0, int(y1 / h * mh) - 2)
                c2 = min(mw, int(np.ceil(x2 / w * mw)) + 2)
                r2 = min(mh, int(np.ceil(y2 / h * mh)) + 2)
                entry["box"] = float(plane[r1:r2, c1:c2].max()) if r2 > r1 and c2 > c1 else 0.0
            best = max(result.instruments, key=lambda i: _iou(i.box, inst.box), default=None)
            matched = best is not None and _iou(best.box, inst.box) >= 0.1
            entry["app"] = float(best.tip_score) if matched and best is not None else 0.0
            entry["app_found"] = float(matched)
            scores[inst.id] = entry
    return scores


def auroc(hidden_scores: np.ndarray, visible_scores: np.ndarray) -> float:
    """P(alarm score of a hidden tip > that of a visible one), ties half."""
    if not len(hidden_scores) or not len(visible_scores):
        return float("nan")
    diff = hidden_scores[:, None] - visible_scores[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def specificity_at_sensitivity(
    hidden_scores: np.ndarray, visible_scores: np.ndarray, sensitivity: float = 0.95
) -> float:
    """Alarm when score >= t; the largest t that flags >= `sensitivity` of the hidden tips."""
    if not len(hidden_scores) or not len(visible_scores):
        return float("nan")
    ordered = np.sort(hidden_scores)[::-1]
    k = int(np.ceil(sensitivity * len(ordered)))
    threshold = ordered[k - 1]
    return float((visible_scores < threshold).mean())


def bootstrap(
    rows: list[tuple[str, bool, float]], statistic, resamples: int = BOOTSTRAP
) -> tuple[float, float]:
    """95% interval, resampling whole videos."""
    rng = np.random.default_rng(SEED)
    videos = sorted({v for v, _, _ in rows})
    by_video = {v: [(h, s) for vv, h, s in rows if vv == v] for v in videos}
    values = []
    for _ in range(resamples):
        pick = rng.choice(len(videos), len(videos), replace=True)
        sample = [pair for i in pick for pair in by_video[videos[i]]]
        hid = np.array([s for h, s in sample if h])
        vis = np.array([s for h, s in sample if not h])
        value = statistic(hid, vis)
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def evaluate(
    instances: list[Instance], scores: dict[str, dict[str, float]], key: str
) -> dict[str, dict[str, object]]:
    """Per class (and all together): counts, AUROC, specificity at 95% sensitivity, and the
    operating threshold for the rule, with intervals. Alarm score = 1 - tip score."""
    classes = sorted({i.tool_class for i in instances if i.tool_class})
    report: dict[str, dict[str, object]] = {}
    for name in [*classes, "all"]:
        chosen = [i for i in instances if name == "all" or i.tool_class == name]
        rows = [(i.video, i.hidden, 1.0 - scores[i.id][key]) for i in chosen]
        hid = np.array([s for _, h, s in rows if h])
        vis = np.array([s for _, h, s in rows if not h])
        entry: dict[str, object] = {
            "hidden": int(len(hid)),
            "visible": int(len(vis)),
            "videos": len({i.video for i in chosen}),
            "auroc": auroc(hid, vis),
            "auroc_ci95": bootstrap(rows, auroc),
            "spec_at_95sens": specificity_at_sensitivity(hid, vis),
            "spec_at_95sens_ci95": bootstrap(rows, specificity_at_sensitivity),
        }
        # Operating point: the lowest tip score t such that a visible tip scoring below t
        # (a false alarm) happens for at most MAX_FALSE_ALARM of visible tips.
        tip_vis = np.sort(1.0 - vis) if len(vis) else np.array([])
        if len(tip_vis):
            allowed = int(np.floor(MAX_FALSE_ALARM * len(tip_vis)))
            threshold = float(tip_vis[allowed]) if allowed < len(tip_vis) else 1.0
            tip_hid = 1.0 - hid

            def spec_at(h: np.ndarray, v: np.ndarray, t: float = threshold) -> float:
                return float(((1.0 - v) >= t).mean()) if len(v) else float("nan")

            def sens_at(h: np.ndarray, v: np.ndarray, t: float = threshold) -> float:
                return float(((1.0 - h) < t).mean()) if len(h) else float("nan")

            entry["threshold"] = threshold
            entry["specificity"] = spec_at(hid, vis)
            entry["specificity_ci95"] = bootstrap(rows, spec_at)
            entry["sensitivity"] = float((tip_hid < threshold).mean()) if len(hid) else None
            entry["sensitivity_ci95"] = bootstrap(rows, sens_at)
        report[name] = entry
    return report


def validated(entry: dict[str, object]) -> bool:
    low = entry.get("specificity_ci95", (float("nan"),))[0]  # type: ignore[index]
    return (
        int(entry["hidden"]) >= MIN_HIDDEN  # type: ignore[call-overload]
        and int(entry["visible"]) >= MIN_VISIBLE  # type: ignore[call-overload]
        and np.isfinite(low)
        and low >= MIN_SPECIFICITY_LOW
        and float(entry.get("sensitivity") or 0.0) >= MIN_SENSITIVITY  # type: ignore[arg-type]
        and float(entry["auroc_ci95"][0]) > 0.5  # type: ignore[index]
    )


def _fmt(value: object) -> str:
    if isinstance(value, tuple | list):
        return "(" + "–".join(_fmt(v) for v in value) + ")"
    if isinstance(value, float):
        return "n/a" if not np.isfinite(value) else f"{value:.2f}"
    return str(value)


def table(report: dict[str, dict[str, object]]) -> str:
    lines = [
        "| class | hidden | visible | videos | AUROC (95% CI) | spec. at 95% sens. (95% CI) "
        "| threshold | sensitivity | specificity (95% CI) | badge |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in report.items():
        lines.append(
            f"| {name} | {e['hidden']} | {e['visible']} | {e['videos']} | "
            f"{_fmt(e['auroc'])} {_fmt(e['auroc_ci95'])} | "
            f"{_fmt(e['spec_at_95sens'])} {_fmt(e['spec_at_95sens_ci95'])} | "
            f"{_fmt(e.get('threshold'))} | {_fmt(e.get('sensitivity'))} | "
            f"{_fmt(e.get('specificity'))} {_fmt(e.get('specificity_ci95'))} | "
            f"{'validated' if name != 'all' and validated(e) else 'no'} |"
        )
    return "\n".join(lines)


def write_rule(
    model_id: str, version: str, labels: tuple[str, ...], report: dict[str, dict[str, object]]
) -> Path:
    """The rule file the app reads (`scrubline.core.tips`): one table per class the model
    reports. A single-class model ("instrument") gets the pooled row of all labelled tools; a
    class-aware one its own classes' rows (a class without eye labels is not validated)."""
    RULES_DIR.mkdir(parents=True, exist_ok=True)
    path = RULES_DIR / f"{model_id}.toml"
    out = [
        "# Written by `python -m models.train.tip_eval --write-rule`; see models/tip-visibility.md.",
        "# A class is validated (badge and tip-hidden episodes shown) only when its row says so.",
        "schema = 1",
        f'model = "{model_id}"',
        f'version = "{version}"',
        'labels_file = "models/train/labels/tip_visibility.csv"',
        f"max_false_alarm = {MAX_FALSE_ALARM}",
        f"min_specificity_low = {MIN_SPECIFICITY_LOW}",
        f"min_hidden = {MIN_HIDDEN}",
        f"min_visible = {MIN_VISIBLE}",
        f"min_sensitivity = {MIN_SENSITIVITY}",
        "",
    ]
    rows = (
        {labels[0]: report["all"]}
        if len(labels) <= 1
        else {
            label: report.get(label, {"hidden": 0, "visible": 0, "auroc": float("nan")})
            for label in labels
        }
    )
    for name, e in rows.items():
        out += [
            f'[classes."{name}"]',
            f"validated = {'true' if validated(e) else 'false'}",
            f"threshold = {float(e.get('threshold', 0.0)):.4f}",  # type: ignore[arg-type]
            f"hidden = {e['hidden']}",
            f"visible = {e['visible']}",
            f"auroc = {float(e['auroc']):.4f}" if np.isfinite(float(e["auroc"])) else "",  # type: ignore[arg-type]
            f"specificity = {float(e.get('specificity', float('nan'))):.4f}",
            "specificity_ci95 = ["
            + ", ".join(f"{v:.4f}" for v in e.get("specificity_ci95", (0.0, 0.0)))  # type: ignore[union-attr]
            + "]",
            f"sensitivity = {float(e.get('sensitivity') or 0.0):.4f}",
            "",
        ]
    path.write_text("\n".join(line for line in out if line is not None) + "\n", encoding="utf-8")
    return path


CARD = REPO / "models" / "tip-visibility.md"
SHEETS = REPO / ".work" / "tips" / "badges"


def render_badge_sheets(model_id: str, per_clip: int = 8) -> list[Path]:
    """Contact sheets of what the app draws (its own `draw_overlays` with the case's tip rules)
    on every shared cholecystectomy clip and on the demo; each thumbnail also says whether the
    rule before this one (any tip score under the manifest's tip threshold) would have shown
    "TIP HIDDEN". Written under .work/ (git-ignored: pictures derived from the data)."""
    import av
    import cv2

    from scrubline.core.demo import DEMO_SECONDS, DEMO_SIZE, demo_frame_drawer
    from scrubline.core.models.registry import load_registry
    from scrubline.core.models.wrappers import load_model
    from scrubline.core.overlay import draw_overlays
    from scrubline.core.tips import rules_for_models

    manifest = load_registry().get(model_id)
    model = load_model(manifest)
    rules = rules_for_models(
        [{"id": manifest.id, "version": manifest.version, "task": manifest.task}]
    )
    SHEETS.mkdir(parents=True, exist_ok=True)

    def frames_of(clip: Path) -> list[tuple[float, np.ndarray]]:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            duration = float(stream.duration * stream.time_base) if stream.duration else 32.0
            wanted = list(np.linspace(0.5, duration - 0.5, per_clip))
            found = []
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base)
                if wanted and t + 1e-6 >= wanted[0]:
                    found.append((t, frame.to_ndarray(format="rgb24")))
                    wanted.pop(0)
            return found

    sources: list[tuple[str, list[tuple[float, np.ndarray]]]] = []
    for clip in sorted((data_root() / "cholec80_clips").glob("g*/*.mp4")):
        sources.append((f"{clip.parent.name}_{clip.stem}", frames_of(clip)))
    draw = demo_frame_drawer(*DEMO_SIZE)
    demo_times = [5.0, 12.0, 17.0, 19.0, 20.5, 30.0, 59.0, 60.5]
    assert max(demo_times) < DEMO_SECONDS
    sources.append(("demo", [(t, draw(int(t * 25), t)) for t in demo_times]))
    written = []
    for name, frames in sources:
        tiles = []
        for t, rgb in frames:
            h, w = rgb.shape[:2]
            resized = cv2.resize(rgb, model.input_size, interpolation=cv2.INTER_AREA)
            result = model.predict([resized], (w, h))[0]
            picture = draw_overlays(rgb, result, tip_rules=rules)
            old = any(not i.tip_visible for i in result.instruments)
            tile = cv2.resize(picture, (427, 240), interpolation=cv2.INTER_AREA)
            caption = f"{t:.1f}s  old rule: {'TIP HIDDEN' if old else 'no badge'}"
            cv2.putText(tile, caption, (4, 232), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
            tiles.append(tile)
        rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, len(tiles), 4)]
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
        path = SHEETS / f"{name}.png"
        cv2.imwrite(str(path), np.concatenate(rows, axis=0)[..., ::-1])
        written.append(path)
    return written


def write_card_block(model_id: str, version: str, results: dict[str, dict]) -> None:
    """The generated tables of the card, between its tip-eval markers."""
    text = CARD.read_text(encoding="utf-8")
    start, end = "<!-- tip-eval:start -->", "<!-- tip-eval:end -->"
    names = {
        "app": "score = app (the tip score of the app's own detection: what the window shows)",
        "box": "score = box (the tip map's peak inside the labelled box)",
    }
    block = [start, "", f"`{model_id}` {version}:", ""]
    for key in ("app", "box"):
        if key in results:
            block += [names[key] + ":", "", table(results[key]), ""]
    block.append(end)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    CARD.write_text(head + "\n".join(block) + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="scrubline-vision")
    parser.add_argument("--write-rule", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--card", action="store_true", help="rewrite the tables in models/tip-visibility.md"
    )
    parser.add_argument(
        "--badge-sheets", action="store_true", help="contact sheets of badges under .work/"
    )
    args = parser.parse_args(argv)
    from scrubline.core.models.registry import load_registry

    if args.badge_sheets:
        for path in render_badge_sheets(args.model):
            print(path)
        return 0
    manifest = load_registry().get(args.model)
    instances = [i for i in read_labels() if i.tool_class]
    scores = score_instances(instances, args.model)
    results = {}
    for key in ("box", "app"):
        if not all(key in scores[i.id] for i in instances):
            continue
        # The app's score exists only where the app drew a box: a tool it missed shows no
        # badge either way, so it is left out rather than counted as an alarm.
        chosen = [i for i in instances if key != "app" or scores[i.id]["app_found"]]
        results[key] = evaluate(chosen, scores, key)
        print(f"\n## {manifest.id} {manifest.version}, score = {key}\n")
        print(table(results[key]))
    found = np.mean([scores[i.id]["app_found"] for i in instances])
    print(f"\napp instance found for {found:.0%} of labelled instances")
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "scores": scores}, indent=1, default=list)
        )
    if args.card:
        write_card_block(manifest.id, manifest.version, results)
    if args.write_rule:
        key = "app" if "app" in results else "box"
        labels = manifest.labels or ("instrument",)
        print(write_rule(manifest.id, manifest.version, labels, results[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
