"""Figures like the DiffMix paper's Figure 4: ternary landscapes with gradient arrows and trajectories, and the
salt-concentration curve with its derivative."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.tri as mtri
import numpy as np
from numpy.typing import ArrayLike

from model.data.tables import name_of
from model.optimize.ascent import Trajectory
from model.optimize.landscape import Landscape
from model.optimize.space import CompositionSpace

SQ3 = np.sqrt(3) / 2

def to_xy(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric (s0, s1, s2) → Cartesian: s0 at bottom-left, s1 at bottom-right, s2 at the top."""
    s = np.atleast_2d(s)
    return s[:, 1] + 0.5 * s[:, 2], SQ3 * s[:, 2]


def ternary_plot(land: Landscape, space: CompositionSpace, unit: str, prop: str, temperature_K: float, path: Path,
                 trajectories: Sequence[Trajectory] | None = None, measured: np.ndarray | None = None,
                 title: str | None = None, arrows: int = 12, measured_values: np.ndarray | None = None) -> Path:
    """The property over the ternary with feasible-gradient arrows, trajectories and measured points (PNG); with
    ``measured_values`` the measured points are filled by their value on the landscape's own colour scale."""
    s = land.z[:, :3]
    x, y = to_xy(s)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    tri = mtri.Triangulation(x, y)
    shown = [land.value] + ([np.asarray(measured_values, float)] if measured_values is not None else [])
    lo, hi = min(float(v.min()) for v in shown), max(float(v.max()) for v in shown)
    levels = np.linspace(lo, hi if hi > lo else lo + 1e-9, 31)
    cf = ax.tricontourf(tri, land.value, levels=levels, cmap="viridis")
    cb = fig.colorbar(cf, ax=ax, shrink=0.8, ticks=matplotlib.ticker.MaxNLocator(7))
    cb.set_label(f"{prop.replace('_', ' ')} ({unit})")
    # gradient arrows on a coarse sub-grid
    step = max(1, int(round(100 / arrows)))
    ij = np.rint(s[:, :2] * 100).astype(int)
    pick = np.all(ij % step == 0, axis=1) & (s[:, 2] > 1e-9)
    g = land.gradient[pick, :3]
    gx, gy = g[:, 1] + 0.5 * g[:, 2], SQ3 * g[:, 2]
    norm = np.hypot(gx, gy).max() or 1.0
    ax.quiver(x[pick], y[pick], gx / norm, gy / norm, color="white", scale=18, width=0.004, alpha=0.9)
    for traj in trajectories or []:
        pts = np.array(traj.points)[:, :3]
        tx, ty = to_xy(pts)
        ax.plot(tx, ty, "-", color="orange", lw=1.6)
        ax.plot(tx[0], ty[0], "o", color="red", ms=7, mec="white")
        ax.plot(tx[-1], ty[-1], "x", color="red", ms=10, mew=2.5)
    if measured is not None and len(measured):
        mx, my = to_xy(np.asarray(measured)[:, :3])
        if measured_values is not None:  # the same colours as the landscape: a point that matches it disappears
            scale = matplotlib.colors.Normalize(vmin=levels[0], vmax=levels[-1])  # the contour's own levels
            ax.scatter(mx, my, s=55, c=measured_values, cmap="viridis", norm=scale, edgecolor="magenta", lw=1.5,
                       label="measured by the robot (fill: measured value)", zorder=5)
        else:
            ax.scatter(mx, my, s=40, facecolor="none", edgecolor="magenta", lw=1.5, label="measured by the robot", zorder=5)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    names = [name_of(v) for v in space.solvents]
    ax.plot([0, 1, 0.5, 0], [0, 0, SQ3, 0], "k-", lw=1)
    for frac in (0.2, 0.4, 0.6, 0.8):  # each edge is graduated in the share of the component it runs towards
        bx, by = to_xy(np.array([[1 - frac, frac, 0.0]]))
        ax.text(bx[0], by[0] - 0.035, f"{frac:.1f}", ha="center", va="top", fontsize=7, color="dimgrey")
        rx, ry = to_xy(np.array([[0.0, 1 - frac, frac]]))
        ax.text(rx[0] + 0.03, ry[0], f"{frac:.1f}", ha="left", va="center", fontsize=7, color="dimgrey")
        lx, ly = to_xy(np.array([[frac, 0.0, 1 - frac]]))
        ax.text(lx[0] - 0.03, ly[0], f"{frac:.1f}", ha="right", va="center", fontsize=7, color="dimgrey")
    basis = space.solvent_basis  # the grid's shares are the space's coordinates: by mole or by mass of the blend
    ax.text(0.5, -0.09, f"{basis} share of {names[1]} →", ha="center", va="top", fontsize=8, color="dimgrey")
    # each arrow points the way its share grows: names[1] toward the right corner, names[2] up to the top corner,
    # names[0] down to the left corner
    ax.text(0.83, 0.45, f"← {basis} share of {names[2]}", ha="center", rotation=-60, fontsize=8, color="dimgrey")
    ax.text(0.17, 0.45, f"← {basis} share of {names[0]}", ha="center", rotation=60, fontsize=8, color="dimgrey")
    ax.text(-0.04, -0.04, names[0], ha="right", va="top", fontsize=12, weight="bold")
    ax.text(1.04, -0.04, names[1], ha="left", va="top", fontsize=12, weight="bold")
    ax.text(0.5, SQ3 + 0.03, names[2], ha="center", va="bottom", fontsize=12, weight="bold")
    ax.set_aspect("equal")
    ax.axis("off")
    salt = name_of(space.salt)
    f = land.z[0, 3]
    ax.set_title(title or f"{salt} in {':'.join(names)} (shares by {basis}), {space.describe_salt(f)}, {temperature_K:.2f} K\n"
                 "arrows: feasible gradient; red dot → ×: gradient-ascent trajectories", fontsize=10, pad=28)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def salt_plot(land: Landscape, space: CompositionSpace, unit: str, prop: str, temperature_K: float, path: Path,
              trajectories: Sequence[Trajectory] | None = None) -> Path:
    """The property (with its ±1σ band) and its derivative along the salt coordinate, with trajectories (PNG). The
    top axis gives the other salt unit: molality under a cation-fraction scan, the cation fraction under a molality one."""
    import torch

    f = land.z[:, -1]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(f, land.value, color="tab:red", lw=2, label=prop.replace("_", " "))
    ax.fill_between(f, land.value - land.std, land.value + land.std, color="tab:red", alpha=0.2, lw=0,
                    label="±1σ (ensemble spread)")
    salt = name_of(space.salt)
    cation = space.cation_fraction(torch.as_tensor(land.z, dtype=torch.float64))[:, 0].numpy()
    molality = space.molality(land.z)
    if space.salt_basis == "molality":
        ax.set_xlabel(f"{salt} molality (mol/kg of solvent)")
        slope = f"d/db ({unit} per mol/kg)"
        other, other_label = cation, f"{salt} cation mole fraction (ions counted separately)"
    else:
        ax.set_xlabel(f"{salt} cation mole fraction (ions counted separately)")
        slope = f"d/dx ({unit} per unit fraction)"
        other, other_label = molality, f"{salt} molality (mol/kg of solvent)"
    if np.all(np.diff(other) > 0):  # a monotone map: the top axis reads the same points in the other unit
        def forward(v: ArrayLike) -> ArrayLike:
            return np.asarray(np.interp(np.asarray(v, float), f, other))

        def inverse(v: ArrayLike) -> ArrayLike:
            return np.asarray(np.interp(np.asarray(v, float), other, f))

        top = ax.secondary_xaxis("top", functions=(forward, inverse))
        top.set_xlabel(other_label, fontsize=9)
    ax.set_ylabel(f"{prop.replace('_', ' ')} ({unit})", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(f, land.gradient[:, -1], color="tab:blue", lw=1.5, ls="--", label="slope (right axis)")
    ax2.axhline(0, color="tab:blue", lw=0.6, alpha=0.5)
    ax2.set_ylabel(slope, color="tab:blue")
    for traj in trajectories or []:
        pts = np.array(traj.points)
        ax.plot(pts[:, -1], traj.values, "o-", color="orange", ms=3)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower center", fontsize=8, frameon=False)
    ratio = ":".join(f"{v:.2f}" for v in land.z[0, :-1])
    ax.set_title(f"{':'.join(name_of(s) for s in space.solvents)} = {ratio} by {space.solvent_basis}, {temperature_K:.2f} K", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
