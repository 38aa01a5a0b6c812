"""Method 3 (docs/methods.md §3.1): keep the large weights *plus* small weights chosen by an optimizer.

Magnitude pruning at sparsity ``s`` keeps the ``K`` largest weights. The thesis (Chung Yang,
NTNU 2021) argues that small weights are not always unimportant: keep ``L = K - B`` large
weights and let an optimization strategy pick the remaining ``B = floor(rho * K)``. Only the
abstract is public, so everything below the idea is **[inferred]** and exposed as an option:

* **rescue budget** ``rho`` (default 0.2): the share of the kept weights chosen by search;
* **scope** ``"layer"`` (default: ``K_l``, ``L_l``, ``B_l`` per layer, so every layer keeps
  exactly what uniform magnitude pruning keeps) or ``"global"`` (one ranking over all layers);
* **candidate pool** ``"all"`` (every weight not in the large set) or ``"band"`` (only the next
  ``gamma * B`` weights by magnitude, ``gamma = 10``);
* **method** (a strict registry, :func:`list_rescue_methods`):

  - ``magnitude``: the next-largest ``B`` weights, i.e. plain magnitude pruning (the baseline);
  - ``random``: ``B`` uniformly random pool members ("is it the choice or just the count?");
  - ``wanda`` / ``taylor``: greedy top-``B`` of a saliency, ``|w| * ||x_in||_2`` (Wanda,
    arXiv 2306.11695) or ``|w * dL/dw|`` (first-order Taylor, Molchanov et al. 2017);
  - ``ga`` (default): a genetic algorithm whose population is seeded with the magnitude
    solution, so its best calibration loss can never be worse than magnitude's;
  - ``sa``: simulated annealing from the magnitude solution, one in/out swap per step;
  - ``pso``: binary particle swarm (Kennedy & Eberhart 1997) with a fixed budget: a real
    velocity per pool member, ``v ← ω v + c₁r₁(p_best − x) + c₂r₂(g_best − x)`` clamped to
    ``±4``, and the position keeps the ``B`` members whose ``σ(v) − u`` (``u ~ U(0, 1)``, the
    BPSO coin) is largest; particle 0 starts at the magnitude solution;
  - ``ste``: a learned score mask (edge-popup, arXiv 1911.13299): hard top-``B`` over the pool
    in the forward pass, straight-through gradients to the scores, Adam, weights frozen.

The objective is the cross-entropy ``L_cal`` of the masked model on a calibration split (300-512
training items, disjoint from test): a smoother fitness than accuracy. Every evaluation is one
forward pass through ``torch.func.functional_call`` with ``w * mask`` swapped in; the model is
never modified.

Example:
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    >>> res = rescue(net, (x, y), 0.8, method="ga", generations=5, seed=0)
    >>> res.loss <= res.magnitude_loss, res.rescued_per_layer()["rescued"].tolist()
    (True, [3, 10])
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from .._registry import Registry
from ..models._base import prunable_parameters
from ..data.batches import Batches
from ._core import check_layers, register_criterion, score
from .scores import Scores

__all__ = ["RescueResult", "rescue", "list_rescue_methods", "register_rescue_method", "optimized",
           "wanda_saliency"]

SCOPES = ("layer", "global")
POOLS = ("all", "band")


# --- the search problem ----------------------------------------------------------------------------
@dataclass
class _Segment:
    """One independent choice: pick ``budget`` of ``pool`` (flat indices, by descending |w|)."""

    pool: Tensor
    budget: int


class _Problem:
    """Weights, the large set, the pools and the calibration loss of one rescue search."""

    def __init__(self, model: nn.Module, layers: list[str], x: Tensor, y: Tensor, sparsity: float,
                 rho: float, scope: str, pool: str, gamma: float) -> None:
        self.model, self.layers = model, layers
        self.weights = [model.get_parameter(n).detach() for n in layers]
        self.sizes = [w.numel() for w in self.weights]
        self.absw = torch.cat([w.abs().reshape(-1).cpu() for w in self.weights])
        self.x, self.y = x, y
        groups = ([torch.arange(sum(self.sizes))] if scope == "global" else
                  list(torch.arange(sum(self.sizes)).split(self.sizes)))
        self.large = torch.zeros(sum(self.sizes), dtype=torch.bool)
        self.segments: list[_Segment] = []
        for idx in groups:
            n = idx.numel()
            k = n - round(sparsity * n)          # kept, as make_masks(uniform/global) counts them
            b = math.floor(rho * k)
            order = idx[torch.argsort(self.absw[idx], descending=True, stable=True)]
            self.large[order[:k - b]] = True
            rest = order[k - b:]
            if pool == "band":
                rest = rest[:max(b, math.ceil(gamma * b))]
            self.segments.append(_Segment(rest, b))

    def magnitude(self) -> list[Tensor]:
        """The next-largest ``B`` of each pool: plain magnitude pruning."""
        return [torch.arange(s.budget) for s in self.segments]

    def flat_mask(self, genes: Sequence[Tensor]) -> Tensor:
        m = self.large.clone()
        for seg, g in zip(self.segments, genes):
            m[seg.pool[g]] = True
        return m

    def params(self, flat: Tensor) -> dict[str, Tensor]:
        dev = self.weights[0].device
        parts = flat.to(dev, self.weights[0].dtype).split(self.sizes)
        return {n: w * p.view_as(w) for n, w, p in zip(self.layers, self.weights, parts)}

    @torch.no_grad()
    def loss(self, genes: Sequence[Tensor]) -> float:
        out = functional_call(self.model, self.params(self.flat_mask(genes)), (self.x,))
        return float(F.cross_entropy(out, self.y))


# --- results ---------------------------------------------------------------------------------------
@dataclass
class RescueResult:
    """What :func:`rescue` found.

    Attributes:
        masks: weight masks, True = kept (large or rescued); ``masks.sparsity`` is the target.
        large, rescued: the two kept parts as weight masks (disjoint; their union is ``masks``).
        loss: calibration cross-entropy of ``masks``; ``magnitude_loss``: of plain magnitude.
        history: one row per generation (GA), per block of steps (SA) or per step (STE):
            ``generation``, ``best_fitness``, ``mean_fitness`` (fitness = ``-L_cal``; for SA and
            STE ``mean_fitness`` is the current solution's).
        threshold: per layer, the smallest |w| in the large set (the magnitude cut).
        method, settings: how it was run.
    """

    masks: Any
    large: Any
    rescued: Any
    loss: float
    magnitude_loss: float
    history: pd.DataFrame
    threshold: dict[str, float]
    method: str
    settings: dict[str, Any] = field(default_factory=dict)

    def scores(self) -> Scores:
        """Weight scores that reproduce :attr:`masks` through the engine.

        Kept weights score in [2, 3], the others in [0, 1] (``|w| / max|w|`` keeps the magnitude
        order inside each part). So ``make_masks(sc, allocate(sc, s, mode="uniform"))`` (scope
        ``"layer"``) or ``allocate(sc, s, mode="global", normalize="none")`` (scope ``"global"``)
        gives back exactly these masks.
        """
        top = max(float(max(w.abs().max() for w in self._weights)), 1e-12)
        out = Scores(granularity="weight", meta={"criterion": "optimized", **self.settings})
        for n, w in zip(self.masks, self._weights):
            a = w.abs().cpu().float() / top
            out[n] = torch.where(self.masks[n], 2.0 + a, a)
        return out

    def rescued_per_layer(self) -> pd.DataFrame:
        """Columns ``layer, weights, kept, large, rescued``: where the search spent its budget."""
        rows = [{"layer": n, "weights": self.masks[n].numel(), "kept": int(self.masks[n].sum()),
                 "large": int(self.large[n].sum()), "rescued": int(self.rescued[n].sum())} for n in self.masks]
        return pd.DataFrame(rows, columns=["layer", "weights", "kept", "large", "rescued"])

    _weights: list[Tensor] = field(default_factory=list, repr=False)


# --- methods ---------------------------------------------------------------------------------------
Method = Callable[..., tuple[list[Tensor], list[dict[str, float]]]]
_METHODS: Registry[Method] = Registry("rescue method")


def register_rescue_method(name: str) -> Callable[[Method], Method]:
    """Register ``fn(problem, gen, opts) -> (genes per segment, history rows)`` (duplicates raise)."""
    return _METHODS.register(name)


def list_rescue_methods() -> list[str]:
    """Names :func:`rescue` accepts as ``method``."""
    return _METHODS.names()


def _sample(n: int, k: int, gen: torch.Generator, weights: Tensor | None = None) -> Tensor:
    if k <= 0:
        return torch.zeros(0, dtype=torch.long)
    if weights is None or float(weights.sum()) <= 0:
        return torch.randperm(n, generator=gen)[:k]
    return torch.multinomial(weights.double().clamp_min(1e-12), k, replacement=False, generator=gen)


def _top(sal: Tensor, k: int) -> Tensor:
    return torch.argsort(sal, descending=True, stable=True)[:k]


@register_rescue_method("magnitude")
def _magnitude(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    return p.magnitude(), []


@register_rescue_method("random")
def _random(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    return [_sample(len(s.pool), s.budget, gen) for s in p.segments], []


@register_rescue_method("wanda")
def _wanda(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    sal = o["saliency"]("wanda")
    return [_top(sal[s.pool], s.budget) for s in p.segments], []


@register_rescue_method("taylor")
def _taylor(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    sal = o["saliency"]("taylor")
    return [_top(sal[s.pool], s.budget) for s in p.segments], []


def _crossover(a: Tensor, b: Tensor, budget: int, gen: torch.Generator) -> Tensor:
    union = torch.unique(torch.cat([a, b]))
    return union[torch.randperm(len(union), generator=gen)[:budget]]


def _mutate(child: Tensor, pool_size: int, swaps: int, gen: torch.Generator) -> Tensor:
    if swaps <= 0 or len(child) == 0:
        return child
    free = torch.ones(pool_size, dtype=torch.bool)
    free[child] = False
    outside = torch.nonzero(free).reshape(-1)
    swaps = min(swaps, len(outside), len(child))
    child = child.clone()
    child[torch.randperm(len(child), generator=gen)[:swaps]] = outside[torch.randperm(len(outside), generator=gen)[:swaps]]
    return child


@register_rescue_method("ga")
def _ga(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    """Genetic algorithm of docs/methods.md §3.1; individual 0 is the magnitude solution."""
    size, n_elite, gens = int(o["population"]), int(o["elite"]), int(o["generations"])
    if not 1 <= n_elite < size:
        raise ValueError(f"elite must be in 1..population-1, got elite={n_elite}, population={size}")
    sal = o["saliency"]("wanda") if o["init"] == "saliency" else None
    pop = [p.magnitude()] + [[_sample(len(s.pool), s.budget, gen, None if sal is None else sal[s.pool])
                              for s in p.segments] for _ in range(size - 1)]
    fit = [p.loss(ind) for ind in pop]
    history = [{"generation": 0, "best_fitness": -min(fit), "mean_fitness": -float(np.mean(fit))}]
    bar = _bar(o, gens, "GA")
    for g in range(1, gens + 1):
        order = np.argsort(fit, kind="stable")[:n_elite]
        elite, elite_fit = [pop[i] for i in order], [fit[i] for i in order]
        children = []
        for _ in range(size - n_elite):
            i, j = torch.randperm(n_elite, generator=gen)[:2].tolist() if n_elite > 1 else (0, 0)
            children.append([_mutate(_crossover(a, b, s.budget, gen), len(s.pool), math.ceil(o["mutation"] * s.budget), gen)
                             for a, b, s in zip(elite[i], elite[j], p.segments)])
        pop, fit = elite + children, elite_fit + [p.loss(c) for c in children]
        history.append({"generation": g, "best_fitness": -min(fit), "mean_fitness": -float(np.mean(fit))})
        _tick(bar, min(fit))
    _close(bar)
    return pop[int(np.argmin(fit))], history


@register_rescue_method("sa")
def _sa(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    """Simulated annealing from magnitude: swap one in/out pair; T0 = median |dloss| of 20 swaps."""
    steps, cooling = int(o["sa_steps"]), float(o["sa_cooling"])
    segs = [i for i, s in enumerate(p.segments) if 0 < s.budget < len(s.pool)]
    cur = p.magnitude()
    cur_loss = p.loss(cur)
    best, best_loss = cur, cur_loss
    history = [{"generation": 0, "best_fitness": -best_loss, "mean_fitness": -cur_loss}]
    if not segs:
        return best, history
    weights = torch.tensor([float(p.segments[i].budget) for i in segs])

    def neighbour(genes: list[Tensor]) -> list[Tensor]:
        k = segs[int(torch.multinomial(weights, 1, generator=gen))]
        new = list(genes)
        new[k] = _mutate(genes[k], len(p.segments[k].pool), 1, gen)
        return new

    t = float(np.median([abs(p.loss(neighbour(cur)) - cur_loss) for _ in range(20)])) or 1e-6
    block = max(1, steps // 60)
    bar = _bar(o, steps, "SA")
    for step in range(1, steps + 1):
        cand = neighbour(cur)
        loss = p.loss(cand)
        if loss < cur_loss or float(torch.rand(1, generator=gen)) < math.exp(-(loss - cur_loss) / max(t, 1e-12)):
            cur, cur_loss = cand, loss
            if loss < best_loss:
                best, best_loss = cand, loss
        t *= cooling
        if step % block == 0 or step == steps:
            history.append({"generation": len(history), "best_fitness": -best_loss, "mean_fitness": -cur_loss})
        _tick(bar, best_loss)
    _close(bar)
    return best, history


@register_rescue_method("pso")
def _pso(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    """Binary PSO with a budget (module doc); ``population`` particles, ``generations`` iterations.

    ω = 0.7, c₁ = c₂ = 1.5 (Shi & Eberhart 1998) and |v| ≤ 4 (Kennedy & Eberhart 1997, so that
    σ(v) stays in [0.018, 0.982] and every member keeps a chance to flip).
    """
    size, iters = int(o["population"]), int(o["generations"])
    inertia, c1, c2, vmax = 0.7, 1.5, 1.5, 4.0
    if size < 1:
        raise ValueError(f"population must be >= 1, got {size}")
    segs = p.segments

    def onehot(genes: list[Tensor]) -> list[Tensor]:
        return [torch.zeros(len(s.pool)).index_fill_(0, g, 1.0) for s, g in zip(segs, genes)]

    def position(vel: list[Tensor]) -> list[Tensor]:
        return [_top(torch.sigmoid(v) - torch.rand(len(v), generator=gen), s.budget) for s, v in zip(segs, vel)]

    pos = [p.magnitude()] + [[_sample(len(s.pool), s.budget, gen) for s in segs] for _ in range(size - 1)]
    vel = [[2.0 * b - 1.0 for b in onehot(x)] for x in pos]  # leaning towards where each particle starts
    fit = [p.loss(x) for x in pos]
    pbest, pfit = list(pos), list(fit)
    g = int(np.argmin(pfit))
    gbest, gfit = pbest[g], pfit[g]
    history = [{"generation": 0, "best_fitness": -gfit, "mean_fitness": -float(np.mean(fit))}]
    bar = _bar(o, iters, "PSO")
    for it in range(1, iters + 1):
        gb = onehot(gbest)
        for i in range(size):
            x, pb = onehot(pos[i]), onehot(pbest[i])
            vel[i] = [(inertia * v + c1 * torch.rand(len(v), generator=gen) * (pbs - xs)
                       + c2 * torch.rand(len(v), generator=gen) * (gbs - xs)).clamp_(-vmax, vmax)
                      for v, xs, pbs, gbs in zip(vel[i], x, pb, gb)]
            pos[i] = position(vel[i])
            fit[i] = p.loss(pos[i])
            if fit[i] < pfit[i]:
                pbest[i], pfit[i] = pos[i], fit[i]
            if fit[i] < gfit:
                gbest, gfit = pos[i], fit[i]
        history.append({"generation": it, "best_fitness": -gfit, "mean_fitness": -float(np.mean(fit))})
        _tick(bar, gfit)
    _close(bar)
    return gbest, history


@register_rescue_method("ste")
def _ste(p: _Problem, gen: torch.Generator, o: dict[str, Any]) -> tuple[list[Tensor], list]:
    """Learned score mask: hard top-B forward, straight-through backward, Adam on the scores."""
    top = float(p.absw.max()) or 1.0
    dev = p.weights[0].device
    scores = [(p.absw[s.pool] / top).to(dev).clone().requires_grad_(True) for s in p.segments]
    opt = torch.optim.Adam(scores, lr=float(o["ste_lr"]))
    best = p.magnitude()
    best_loss, history = p.loss(best), []   # start from magnitude: never worse on L_cal
    bar = _bar(o, int(o["ste_steps"]), "STE")
    for step in range(int(o["ste_steps"]) + 1):
        flat = p.large.to(dev, p.weights[0].dtype).clone()
        genes = []
        for seg, sc in zip(p.segments, scores):
            idx = torch.topk(sc.detach(), seg.budget).indices if seg.budget else torch.zeros(0, dtype=torch.long, device=dev)
            hard = torch.zeros_like(sc).index_fill(0, idx, 1.0)
            flat = flat.index_put((seg.pool.to(dev),), hard + sc - sc.detach())  # value = hard, grad = identity
            genes.append(idx.cpu())
        loss = F.cross_entropy(functional_call(p.model, p.params(flat), (p.x,)), p.y)
        value = float(loss.detach())
        if value < best_loss:
            best, best_loss = genes, value
        history.append({"generation": step, "best_fitness": -best_loss, "mean_fitness": -value})
        if step < int(o["ste_steps"]):
            opt.zero_grad()
            loss.backward()
            opt.step()
        _tick(bar, best_loss)
    _close(bar)
    return best, history


def _bar(o: dict[str, Any], total: int, desc: str) -> Any:
    if not o.get("progress"):
        return None
    from tqdm.auto import tqdm  # lazy: `import labkit` needs no tqdm

    return tqdm(total=total, desc=desc, unit="gen" if desc in ("GA", "PSO") else "step", leave=False)


def _tick(bar: Any, best_loss: float) -> None:
    if bar is not None:
        bar.update(1)
        bar.set_postfix(best_loss=f"{best_loss:.4f}", refresh=False)


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()


# --- saliencies for the greedy methods and saliency-seeded GA --------------------------------------
def wanda_saliency(model: nn.Module, layers: Sequence[str], x: Tensor) -> dict[str, Tensor]:
    """Wanda's ``|W_ij| * ||X_j||_2`` (Sun et al. 2023, arXiv 2306.11695) per weight.

    ``X_j`` is input feature ``j`` of the layer over all items (and positions): for a linear
    layer an input column, for a conv an input channel (the same norm for every kernel tap).
    """
    norms: dict[str, Tensor] = {}

    def hook_for(name: str) -> Callable:
        def hook(m: nn.Module, args: tuple) -> None:
            a = args[0].detach().double()
            s = a.pow(2).sum(dim=(0, 2, 3)) if a.dim() == 4 else a.reshape(-1, a.shape[-1]).pow(2).sum(0)
            norms[name] = norms.get(name, 0) + s
        return hook

    mods = {n: model.get_submodule(n.rsplit(".", 1)[0]) for n in layers}
    handles = [m.register_forward_pre_hook(hook_for(n)) for n, m in mods.items()]
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    out = {}
    for n in layers:
        w = model.get_parameter(n).detach()
        col = norms[n].sqrt().float().to(w.device)
        shape = (1, -1) + (1,) * (w.dim() - 2)
        out[n] = (w.abs() * col.view(shape)).cpu()
    return out


# --- the entry point -------------------------------------------------------------------------------
def _xy(data: Any) -> tuple[Tensor, Tensor]:
    b = data if isinstance(data, Batches) else Batches(data)
    xs, ys = zip(*list(b))
    if any(y is None for y in ys):
        raise ValueError("the rescue search minimises a cross-entropy: pass labelled calibration data, "
                         "a Split or an (x, y) pair")
    return torch.cat(xs), torch.cat(ys)


def rescue(model: nn.Module, data: Any, sparsity: float, *, rho: float = 0.2, method: str = "ga",
           scope: str = "layer", pool: str = "all", gamma: float = 10.0, layers: Sequence[str] | None = None,
           exclude_first: bool = True, exclude_last: bool = True, population: int = 24, generations: int = 60,
           elite: int = 6, mutation: float = 0.02, init: str = "uniform", sa_steps: int = 3000,
           sa_cooling: float = 0.995, ste_steps: int = 300, ste_lr: float = 0.01, seed: int = 0,
           progress: bool = False) -> RescueResult:
    """Keep the ``L`` largest weights plus ``B = floor(rho K)`` small ones chosen by ``method``.

    Args:
        model: the dense trained model (not modified; it runs in eval mode).
        data: labelled calibration items (a Split, an ``(x, y)`` pair or batches), disjoint
            from the test set; 300-512 items (docs/methods.md §3.1). Held on the model's device.
        sparsity: fraction of the prunable weights removed, in [0, 1).
        rho: rescue budget, the share of the ``K`` kept weights chosen by search, in [0, 1).
        method: one of :func:`list_rescue_methods` (see the module doc).
        scope: ``"layer"`` (K, L, B per layer) or ``"global"`` (one ranking over all layers).
        pool: ``"all"`` or ``"band"`` (only the next ``gamma * B`` weights by magnitude).
        layers: parameter names; default the prunable layers (first conv, last linear excluded).
        population, generations, elite, mutation: GA settings (24, 60, 6, 2 % of B swapped).
        init: GA's initial individuals: ``"uniform"`` from the pool or ``"saliency"`` (drawn
            proportional to Wanda's ``|w| ||x||``; converges faster).
        sa_steps, sa_cooling: SA settings (3000 steps, T x 0.995 per step).
        ste_steps, ste_lr: learned score mask settings (Adam steps and learning rate).
        seed: seeds every random choice; the same seed gives the same masks.
        progress: a tqdm bar per generation / step.
    """
    from ..pruning.allocate import check_sparsity
    from ..pruning.masks import Masks

    s = check_sparsity(sparsity)
    if not (0.0 <= float(rho) < 1.0):
        raise ValueError(f"rho is the share of kept weights chosen by search, a fraction in [0, 1) "
                         f"(docs/methods.md §3.1 uses 0..0.5, default 0.2); got {rho!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if init not in ("uniform", "saliency"):
        raise ValueError(f"init must be 'uniform' or 'saliency', got {init!r}")
    fn = _METHODS.get(method)
    names = check_layers(model, list(layers) if layers is not None
                         else prunable_parameters(model, exclude_first, exclude_last))
    if not names:
        raise ValueError("no layers to prune; pass layers=[...] or exclude_first/exclude_last=False")
    dev = next(model.parameters()).device
    x, y = _xy(data)
    x, y = x.to(dev), y.to(dev)
    was = model.training
    model.eval()
    try:
        p = _Problem(model, names, x, y, s, float(rho), scope, pool, float(gamma))
        cache: dict[str, Tensor] = {}

        def saliency(kind: str) -> Tensor:
            if kind not in cache:
                sal = (wanda_saliency(model, names, x) if kind == "wanda" else
                       score(model, "taylor", data=(x, y), granularity="weight", layers=names))
                cache[kind] = torch.cat([sal[n].reshape(-1).float() for n in names])
            return cache[kind]

        opts = dict(population=population, generations=generations, elite=elite, mutation=mutation, init=init,
                    sa_steps=sa_steps, sa_cooling=sa_cooling, ste_steps=ste_steps, ste_lr=ste_lr,
                    progress=progress, saliency=saliency)
        gen = torch.Generator().manual_seed(int(seed))
        genes, history = fn(p, gen, opts)
        mag_loss = p.loss(p.magnitude())
        flat = p.flat_mask(genes)
        loss = p.loss(genes)
    finally:
        model.train(was)
    if not history:
        history = [{"generation": 0, "best_fitness": -loss, "mean_fitness": -loss}]
    split = lambda t: dict(zip(names, [part.view_as(w) for part, w in zip(t.split(p.sizes), p.weights)]))  # noqa: E731
    settings = {"sparsity": s, "rho": float(rho), "method": method, "scope": scope, "pool": pool,
                "gamma": float(gamma), "seed": int(seed), "calibration_items": len(y)}
    if method == "ga":
        settings.update(population=population, generations=generations, elite=elite, mutation=mutation, init=init)
    large = p.large
    threshold = {n: float(w.abs().reshape(-1)[lg].min()) if bool(lg.any()) else math.inf
                 for n, w, lg in zip(names, p.weights, large.split(p.sizes))}
    return RescueResult(masks=Masks(split(flat), "weight", {"criterion": "optimized", **settings}),
                        large=Masks(split(large), "weight"), rescued=Masks(split(flat & ~large), "weight"),
                        loss=loss, magnitude_loss=mag_loss, history=pd.DataFrame(history), threshold=threshold,
                        method=method, settings=settings, _weights=p.weights)


@register_criterion("optimized", needs_data=True, needs_labels=True, granularities=("weight",),
                    summary="large weights + small ones chosen by a GA / SA / learned mask (docs/methods.md §3.1) [inferred]")
def optimized(model: nn.Module, layers: list[str], *, data: Batches, granularity: str = "weight",
              sparsity: float = 0.9, **kw: Any) -> dict[str, Tensor]:
    """Scores encoding :func:`rescue`'s masks at ``sparsity``: allocate the same sparsity with
    ``mode="uniform"`` (scope ``"layer"``) or ``mode="global", normalize="none"`` to get them back."""
    return rescue(model, data, sparsity, layers=layers, **kw).scores()
