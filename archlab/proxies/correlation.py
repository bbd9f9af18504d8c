"""Do zero-cost proxies rank architectures like training does? Rank correlation against trained mIoU.

The protocol of the zero-cost proxy literature (Abdelfattah et al., "Zero-Cost Proxies for
Lightweight NAS", ICLR 2021; Mellor et al., ICML 2021): sample architectures from a search space,
score each untrained network with every proxy of :data:`archlab.proxies.PROXIES` on one fixed
batch, train each with the same (proxy) budget, and report Spearman's rho and Kendall's tau-b
(``scipy.stats.spearmanr`` / ``kendalltau``) of every proxy against the trained mIoU. Parameter
count and MACs are scored the same way: they are the baselines a proxy has to beat, and the
report says plainly when they rank better.

Rules the numbers follow (also written into the report):

* a run that diverged (``status != "ok"``, mIoU NaN) is listed and left out, never counted as 0;
* proxy scores keep their infinities: ``+inf`` (synflow overflow) ranks above every finite score,
  ``-inf`` (naswot's singular kernel) below every finite score, as the proxies mean them; a NaN
  score (a proxy that failed on that network) leaves that one network out of that one proxy;
* a 95% interval for rho comes from resampling the architectures (percentile bootstrap), and
  "proxy beats baseline" is also given as the share of those resamples in which it does.

Per-architecture results are cached in ``OUT/samples.csv`` (rewritten atomically after every
stage), keyed by spec hash + proxy-batch digest and spec hash + training settings, so a rerun
skips finished work and an interrupted training resumes from its run directory.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from archlab.proxies import PROXIES, score, score_all
from archlab.spec import Spec
from archlab.hashing import digest
from archlab.files import atomic_write, atomic_write_csv

BASELINES = ("params", "macs")
TIE = 1e-9   # two rho closer than this are a tie (float noise), and a tie with a baseline is not a win
TRAIN_FIELDS = ("miou", "status", "failure", "train_steps", "train_time_s", "final_loss", "miou_dataset",
                "miou_split", "miou_size", "miou_images", "device_name", "threads", "torch_version")


def _key(*parts) -> str:
    return digest(parts)


def batch_digest(images: torch.Tensor, labels: torch.Tensor | None) -> str:
    """A short hash of the proxy batch's contents (part of every cached proxy score's key)."""
    h = hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes())
    if labels is not None:
        h.update(labels.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def sample_specs(space, n: int, seed: int = 0, max_draws: int | None = None) -> tuple[dict[str, Spec], dict[str, dict]]:
    """``n`` distinct architectures of ``space`` drawn with ``np.random.default_rng(seed)``.

    A draw whose spec has the content hash of an earlier one is thrown away and drawn again, so
    the sample is ``n`` different networks; the first ``k`` of a larger ``n`` are the same ``k``.
    Returns ``({name: spec}, {name: the space's params})`` with names ``s01-<hash8>`` in draw order.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"samples={n!r} must be a positive integer")
    rng = np.random.default_rng(seed)
    specs, params, seen = {}, {}, set()
    max_draws = max_draws or 50 * n
    for _ in range(max_draws):
        drawn = space.sample(rng)
        spec = space.spec(drawn)
        digest = spec.content_hash()
        if digest in seen:
            continue
        seen.add(digest)
        name = f"s{len(specs) + 1:02d}-{digest[:8]}"
        specs[name], params[name] = spec, drawn
        if len(specs) == n:
            return specs, params
    raise ValueError(f"search space {getattr(space, 'name', space)!r} gave only {len(specs)} distinct architectures "
                     f"in {max_draws} draws; ask for fewer --samples")


TEXT_COLUMNS = ("sample", "spec_hash", "spec_name", "space_params", "proxy_key", "proxy_error", "train_key",
                "train_run", "status", "failure")


def read_samples(path) -> pd.DataFrame:
    """``samples.csv`` with hashes and keys read as text (a hex digest can look like a number to pandas)."""
    from archlab.files import read_csv

    return read_csv(path, required=("spec_hash",), dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True,
                    remedy="delete it (its architectures are trained again) or write elsewhere with --out")


class SamplesFile:
    """``samples.csv``: one row per architecture, rewritten atomically under its lock on every ``put``
    (rows another process wrote meanwhile are kept)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.cached: dict[str, dict] = {}
        if self.path.is_file():
            for row in read_samples(self.path).to_dict("records"):
                self.cached[row["spec_hash"]] = row
        self.rows: dict[str, dict] = {}

    def put(self, name: str, row: dict) -> None:
        """Store ``row``; until :meth:`finish`, earlier rows not yet revisited, and rows another
        process wrote meanwhile, stay in the file too."""
        self.rows[name] = row
        ours = list(self.rows.values())
        done = {r["spec_hash"] for r in ours}

        def merge(current):
            others = [] if current is None else [r for r in current.to_dict("records") if r["spec_hash"] not in done]
            return pd.DataFrame(ours + others)

        self._write(merge)

    def finish(self) -> None:
        """Keep only the rows of this run's sample, in its order."""
        rows = list(self.rows.values())
        self._write(lambda current: pd.DataFrame(rows))

    def _write(self, change) -> None:
        from archlab.files import update_csv

        update_csv(self.path, change, required=("spec_hash",), dtype={c: str for c in TEXT_COLUMNS},
                   remedy="delete it (its architectures are trained again) or write elsewhere with --out")


def _scores(spec: Spec, images, labels, seed: int) -> tuple[dict[str, float], str]:
    """Every proxy's score; a proxy that raises scores NaN and its error is returned."""
    try:
        return score_all(spec, images, labels, seed=seed), ""
    except Exception:   # noqa: BLE001 - find out which proxy failed, keep the others
        out, errors = {}, []
        for name in PROXIES:
            try:
                out[name] = score(name, spec, images, labels, seed=seed)
            except Exception as exc:  # noqa: BLE001
                out[name] = float("nan")
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return out, "; ".join(errors)


def correlate(specs: dict[str, Spec], budget: dict, images: torch.Tensor, labels: torch.Tensor, out_dir, *,
              runs_dir=Path("runs") / "proxy_correlation", meta: dict[str, dict] | None = None, force: bool = False,
              progress: bool = True, threads: int | None = None, proxy_seed: int = 0) -> pd.DataFrame:
    """Score and train every spec of ``specs`` (cached in ``out_dir/samples.csv``); return the rows.

    ``budget``: :class:`archlab.train.TrainConfig` overrides (the proxy training budget, ``device``
    included). ``images``/``labels``: the one proxy batch every network is scored on (moved to the
    budget's device). ``meta``: extra columns per name (the space's params). Training goes through
    ``archlab.train.train(spec, config, out=runs_dir/<spec hash 12>-<settings hash 8>)``.
    ``force``: rescore and retrain from scratch, ignoring the cache and the run directories.
    """
    import archlab.train
    from archlab.study.runner import StageProgress
    from archlab.train import TrainConfig

    if threads:
        torch.set_num_threads(threads)
    config = TrainConfig(**budget)
    images = images.to(config.device)
    labels = labels.to(config.device) if labels is not None else None
    digest = batch_digest(images, labels)
    samples = SamplesFile(Path(out_dir) / "samples.csv")
    runs_dir = Path(runs_dir)
    meta = meta or {}
    total = len(specs)
    with StageProgress(progress, 2 * total, "proxy correlation") as bar:
        for i, (name, spec) in enumerate(specs.items(), start=1):
            where = f"[{i}/{total}] {name}"
            spec_hash = spec.content_hash()
            row = {} if force else dict(samples.cached.get(spec_hash, {}))
            row.update(sample=name, order=i, spec_hash=spec_hash, spec_name=spec.name,
                       space_params=json.dumps(meta.get(name, {}), sort_keys=True, default=str))
            proxy_key = _key(spec_hash, digest, proxy_seed, PROXIES)
            if row.get("proxy_key") != proxy_key:
                bar.stage(f"{where}: zero-cost proxies")
                tick = time.perf_counter()
                scores, error = _scores(spec, images, labels, proxy_seed)
                row.update(scores)
                row.update(proxy_key=proxy_key, proxy_error=error, proxy_time_s=time.perf_counter() - tick)
                samples.put(name, row)
            bar.stage(f"{where}: proxies scored", advance=1)
            train_key = _key(spec_hash, config.result_hash())
            run = runs_dir / f"{spec_hash[:12]}-{train_key[:8]}"
            if row.get("train_key") != train_key:
                bar.stage(f"{where}: training")
                record = archlab.train.train(spec, config, out=run, progress=False, resume=not force,
                                             threads=threads, on_step=lambda done, steps, loss, w=where: bar.stage(
                                                 f"{w}: training step {done}/{steps}, loss {loss:.3f}"))
                row.update({k: record.get(k) for k in TRAIN_FIELDS})
                row.update(train_key=train_key, train_run=str(run))
            samples.put(name, row)
            bar.stage(f"{where}: trained", advance=1)
    samples.finish()
    return pd.DataFrame(list(samples.rows.values()))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1 = smallest) with ``-inf < finite < +inf``; scipy's ``rankdata`` orders infinities so."""
    from scipy.stats import rankdata

    return rankdata(values)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of ``x``, ``y`` (resamples x n), ties averaged; NaN where constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


def _share_ahead(a: np.ndarray, b: np.ndarray) -> float:
    """Share of resamples in which rho ``a`` exceeds rho ``b``, a tie counting half (NaN resamples left out)."""
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return float("nan")
    a, b = a[both], b[both]
    return float(np.mean((a > b + TIE) + 0.5 * (np.abs(a - b) <= TIE)))


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that count: trained to the end (``status == "ok"``) with a finite mIoU."""
    ok = frame["status"].astype(str).eq("ok") if "status" in frame else pd.Series(True, index=frame.index)
    return frame[ok & np.isfinite(pd.to_numeric(frame["miou"], errors="coerce"))]


def rank_correlations(frame: pd.DataFrame, proxies=PROXIES, target: str = "miou", *, bootstrap: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Spearman rho and Kendall tau-b (scipy, two-sided p) of every proxy column against ``target``.

    Uses :func:`usable` rows only; per proxy, rows whose score is NaN are left out (``n``), infinite
    scores are kept and ranked at the ends. ``rho_low``/``rho_high``: 95% percentile bootstrap over
    the architectures (``bootstrap`` resamples, ``seed``). Columns ``beats_<b>``: the share of paired
    resamples (the same architectures for both) in which the proxy's rho exceeds baseline ``b``'s, a
    tie counting half. Sorted by rho, highest first, a baseline ahead of a proxy it ties with (a tie
    is not a win); ``rank`` 1 = best.
    """
    from scipy.stats import kendalltau, spearmanr

    data = usable(frame)
    y = data[target].to_numpy(float)
    scores = {name: pd.to_numeric(data[name], errors="coerce").to_numpy(float) for name in proxies}

    def resampled_rho(names, keep):
        """rho of each proxy in ``names`` on the same ``bootstrap`` resamples of the rows ``keep``."""
        rows = np.flatnonzero(keep)
        if len(rows) < 3:
            return {name: np.full(bootstrap, np.nan) for name in names}
        idx = rows[np.random.default_rng(seed).integers(0, len(rows), size=(bootstrap, len(rows)))]
        return {name: _spearman_rows(scores[name][idx], y[idx]) for name in names}

    rows = []
    for name in proxies:
        keep = ~np.isnan(scores[name])
        x, yk = scores[name][keep], y[keep]
        row = {"proxy": name, "kind": "baseline" if name in BASELINES else "zero-cost proxy", "n": int(keep.sum()),
               "n_infinite": int(np.isinf(x).sum()), "rho": np.nan, "rho_p": np.nan, "tau": np.nan, "tau_p": np.nan,
               "rho_low": np.nan, "rho_high": np.nan}
        if len(x) >= 3 and np.ptp(_ranks(x)) > 0 and np.ptp(yk) > 0:
            rx = _ranks(x)
            (rho, rho_p), (tau, tau_p) = spearmanr(rx, yk), kendalltau(rx, yk)
            row.update(rho=float(rho), rho_p=float(rho_p), tau=float(tau), tau_p=float(tau_p))
            boot = resampled_rho([name], keep)[name]
            if np.isfinite(boot).any():
                row["rho_low"], row["rho_high"] = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
        for b in BASELINES:
            if b in scores and b != name:
                pair = resampled_rho([name, b], keep & ~np.isnan(scores[b]))
                row[f"beats_{b}"] = _share_ahead(pair[name], pair[b])
        rows.append(row)
    table = pd.DataFrame(rows)
    table["_rho"], table["_baseline"] = table["rho"].round(9), table["kind"].eq("baseline")
    table = table.sort_values(["_rho", "_baseline"], ascending=False, na_position="last", kind="stable")
    table = table.drop(columns=["_rho", "_baseline"]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def verdicts(table: pd.DataFrame) -> list[str]:
    """One plain sentence per zero-cost proxy: which baseline (params, macs) ranks better, which worse."""
    rho = dict(zip(table["proxy"], table["rho"]))
    lines = []
    for _, r in table.iterrows():
        if r["proxy"] in BASELINES:
            continue
        if not np.isfinite(r["rho"]):
            lines.append(f"**{r['proxy']}**: no correlation could be computed (constant scores or fewer than 3 "
                         f"usable architectures).")
            continue
        better, worse, tied = [], [], []
        for b in BASELINES:
            if b not in rho or not np.isfinite(rho[b]):
                continue
            share = r.get(f"beats_{b}", np.nan)
            boot = f"; {r['proxy']} ahead in {share:.0%} of resamples" if np.isfinite(share) else ""
            text = f"{b} (ρ = {rho[b]:+.2f}{boot})"
            if abs(r["rho"] - rho[b]) <= TIE:
                tied.append(text)
            else:
                (worse if r["rho"] > rho[b] else better).append(text)
        parts = [f"ties with {' and '.join(tied)}"] if tied else []
        if better:
            parts.append("is beaten by " + " and ".join(better))
        if worse:
            parts.append("beats " + " and ".join(worse))
        lines.append(f"**{r['proxy']}** (ρ = {r['rho']:+.2f}) " + ", ".join(parts or ["has no baseline to compare"])
                     + ".")
    return lines


def _fmt(v, spec: str = "+.3f") -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _p(v) -> str:
    return "<0.001" if isinstance(v, float) and 0 <= v < 0.001 else _fmt(v, ".3f")


def markdown_report(frame: pd.DataFrame, table: pd.DataFrame, *, settings: dict, command: str,
                    elapsed_s: float | None = None) -> str:
    """``correlation.md``: the correlation table, the baseline verdicts, exclusions, settings and command."""
    data = usable(frame)
    excluded = frame.drop(index=data.index)
    miou = data["miou"].astype(float) * 100
    lines = ["# Zero-cost proxies vs trained mIoU", ""]
    if len(table) and np.isfinite(table["rho"].iloc[0]):
        best = table.iloc[0]
        rho = dict(zip(table["proxy"], table["rho"]))
        proxies_ahead = [p for p in rho if p not in BASELINES and np.isfinite(rho[p])
                         and all(rho[p] > rho[b] + TIE for b in BASELINES if b in rho)]
        lines += [f"{len(data)} architectures trained to the end ({len(excluded)} excluded). Best ranking: "
                  f"**{best['proxy']}** ({best['kind']}, Spearman ρ = {best['rho']:+.2f}). Zero-cost proxies that "
                  f"rank better than both parameter count and MACs: {', '.join(proxies_ahead) or '**none**'}.", ""]
    header = ["rank", "proxy", "kind", "n", "Spearman ρ", "95% CI (bootstrap)", "p (ρ)", "Kendall τ", "p (τ)"]
    header += [f"ρ > {b} in" for b in BASELINES if f"beats_{b}" in table]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in table.iterrows():
        cells = [str(r["rank"]), f"**{r['proxy']}**" if r["kind"] == "baseline" else r["proxy"], r["kind"],
                 str(r["n"]) + (f" ({r['n_infinite']} ±inf)" if r["n_infinite"] else ""), _fmt(r["rho"]),
                 f"[{_fmt(r['rho_low'], '+.2f')}, {_fmt(r['rho_high'], '+.2f')}]", _p(r["rho_p"]),
                 _fmt(r["tau"]), _p(r["tau_p"])]
        cells += [_fmt(r[f"beats_{b}"], ".0%") if r["proxy"] != b else "" for b in BASELINES if f"beats_{b}" in table]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Sorted by Spearman ρ, highest first. Every proxy claims \"higher score = better network\", so the "
              "sign matters: a negative ρ means the proxy ranks the architectures backwards (searching with it "
              "would prefer the worse ones); it is not ranked by |ρ|. **Bold** = the baselines a proxy must beat. "
              "\"ρ > b in\": share of bootstrap resamples of the architectures in which this row's ρ exceeds "
              "baseline b's (near 50% = no evidence either way).", "", "## Proxies against the baselines", ""]
    lines += [f"- {v}" for v in verdicts(table)]
    lines += ["", "## Trained mIoU", "",
              f"Range {_fmt(miou.min(), '.2f')}–{_fmt(miou.max(), '.2f')}%, median {_fmt(miou.median(), '.2f')}%, "
              f"std {_fmt(miou.std(), '.2f')} points over {len(data)} architectures. One training seed per "
              f"architecture: differences between architectures smaller than the seed-to-seed spread of the "
              f"budget are noise, and they bound every correlation above.", ""]
    lines += ["## Excluded", ""]
    if len(excluded):
        for _, r in excluded.iterrows():
            why = r.get("failure") if isinstance(r.get("failure"), str) and r.get("failure") else \
                f"status {r.get('status')}, mIoU {r.get('miou')}"
            lines.append(f"- {r['sample']} ({str(r['spec_hash'])[:12]}): {why}")
    else:
        lines.append("- none: every training finished with a finite mIoU.")
    lines += ["", "Diverged or unfinished trainings are left out of every correlation, never counted as 0 mIoU.",
              "Non-finite proxy scores are kept: +inf (synflow overflow) ranks above every finite score and -inf "
              "(naswot's singular kernel) below; a NaN score leaves that architecture out of that proxy only "
              "(column n).", ""]
    errors = frame["proxy_error"].dropna().astype(str) if "proxy_error" in frame else pd.Series([], dtype=str)
    errors = errors[errors != ""]
    if len(errors):
        lines += ["Proxy failures (scored NaN):", ""]
        lines += [f"- {frame.loc[i, 'sample']}: {e}" for i, e in errors.items()]
        lines.append("")
    lines += ["## Settings", ""] + [f"- {k}: {v}" for k, v in settings.items()]
    if elapsed_s is not None:
        lines.append(f"- time taken by this command: {elapsed_s:.0f} s (stages cached by an earlier run not redone)")
    spent = {k: pd.to_numeric(frame[k], errors="coerce").sum() for k in ("proxy_time_s", "train_time_s") if k in frame}
    if spent:
        lines.append("- compute recorded per architecture, summed: " + ", ".join(
            f"{k.split('_')[0]} {v:.0f} s" for k, v in spent.items()) + " (training excludes evaluation)")
    lines += ["", "Method: Spearman ρ and Kendall τ-b with two-sided p-values from scipy.stats (spearmanr, "
              "kendalltau); 95% interval = percentile bootstrap over architectures. Protocol after Abdelfattah et al., ICLR 2021.",
              "", "Made by:", "", "```", command, "```", ""]
    return "\n".join(lines)


def scatter_grid(frame: pd.DataFrame, table: pd.DataFrame, path: Path, *, title: str = "") -> Path:
    """``correlation.png``: one panel per proxy, score vs trained mIoU, rho and tau in each title.

    Infinite scores are drawn at the panel's edge as open triangles; params and MACs on a log axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    data = usable(frame)
    stats = table.set_index("proxy")
    names = list(table["proxy"])
    cols = 3
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    y = data["miou"].astype(float).to_numpy() * 100
    for ax, name in zip(axes.flat, names):
        x = pd.to_numeric(data[name], errors="coerce").to_numpy(float)
        finite = np.isfinite(x)
        baseline = name in BASELINES
        ax.scatter(x[finite], y[finite], s=22, color="tab:gray" if baseline else "tab:blue", alpha=0.85)
        if baseline and finite.any() and (x[finite] > 0).all():
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if (~finite & ~np.isnan(x)).any() and finite.any():
            lo, hi = x[finite].min(), x[finite].max()
            pad = (hi - lo) * 0.08 or 1.0
            for sign, edge, marker in ((1, hi + pad, ">"), (-1, lo - pad, "<")):
                hit = np.isinf(x) & (np.sign(x) == sign)
                if hit.any():
                    ax.scatter(np.full(hit.sum(), edge), y[hit], marker=marker, facecolors="none",
                               edgecolors="tab:red", s=40, label=f"{'+' if sign > 0 else '-'}inf")
            ax.legend(fontsize=7, loc="best")
        s = stats.loc[name]
        ax.set_title(f"{name}{' (baseline)' if baseline else ''}: ρ = {_fmt(s['rho'], '+.2f')}, "
                     f"τ = {_fmt(s['tau'], '+.2f')} (n={s['n']})", fontsize=9)
        ax.set_xlabel({"params": "parameters (log axis)", "macs": "MACs of one image (log axis)"}.get(
            name, f"{name} score (higher = predicted better)"), fontsize=8)
        ax.set_ylabel("trained mIoU (%)", fontsize=8)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(frame: pd.DataFrame, out_dir, *, settings: dict, command: str, elapsed_s: float | None = None,
                 seed: int = 0, space: str = "") -> list[Path]:
    """Write ``correlation.md`` and ``correlation.png`` (and ``correlation.csv``, the table) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = rank_correlations(frame, seed=seed)
    atomic_write(out / "correlation.md", markdown_report(frame, table, settings=settings, command=command,
                                                         elapsed_s=elapsed_s))
    atomic_write_csv(out / "correlation.csv", table)
    png = scatter_grid(frame, table, out / "correlation.png",
                       title=f"Zero-cost proxies vs trained mIoU: {space + ', ' if space else ''}"
                             f"{len(usable(frame))} trained architectures")
    return [out / "correlation.md", out / "correlation.csv", png]


__all__ = ["BASELINES", "batch_digest", "correlate", "markdown_report", "rank_correlations", "read_samples",
           "sample_specs", "scatter_grid", "usable", "verdicts", "write_report"]
