"""DiffMix and its baselines. Every model maps (molecules, composition, conditions) → property in physical units.

Shapes: the V unique molecules of a batch are encoded once (``encode``) and gathered by index; a batch of B
mixtures is ``idx`` [B, C] (index into the V molecules, −1 for an empty slot), ``x`` [B, C] mole fractions
(0 in empty slots), ``T`` [B] in K and ``P`` [B] in kPa. Because every mixture-level quantity is weighted by
mole fractions or summed over pairs, empty slots contribute exactly nothing.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn

from model import laws
from model.nn.blocks import MIN_FRACTION, gather, ion_and_solvent_slots
from model.nn.encoder import MoleculeEncoder, mlp
from model.nn.solvent import N_COLUMNS, SolventLaws
from model.properties import VOGEL_T_MAX_K

T_REF_K = 298.15
P_REF_KPA = 101.325
# VFT constraints by construction: T0 ∈ (0, VOGEL_T_MAX_K] lies at least 10 K below every temperature the model is
# asked about (see model.properties); B = softplus(·)·B_SCALE_K > 0; A = exp(·) > 0.
B_SCALE_K = 500.0
B_OFFSET = 0.5  # B = softplus(o + B_OFFSET) · B_SCALE_K: a head output of 0 starts at B ≈ 487 K
# Carrier-density prefactor (DiffMixVFT(carrier_density=True)): 1 mol/kg LiPF6 in EC:DMC has x(Li+) + x(PF6−) ≈ 0.17;
# a mixture without ions gets κ ≈ 1e-12 · A' (zero, without an infinite logarithm).
TYPICAL_ION_FRACTION = 0.17


def conditions(T: torch.Tensor, P: torch.Tensor, with_temperature: bool = True) -> torch.Tensor:
    """The environment vector E, scaled to order one."""
    p = torch.log(P / P_REF_KPA).unsqueeze(-1)
    if not with_temperature:
        return p
    return torch.cat([((T - T_REF_K) / 50.0).unsqueeze(-1), p], dim=-1)


def pair_pool(table: torch.Tensor, idx: torch.Tensor, x: torch.Tensor, include_self: bool = False) -> torch.Tensor:
    """Σ_{a≠b} x_a x_b ψ(a, b) for every mixture: [V, V, H] pair table, [B, C] indices and fractions → [B, H]
    (``include_self``: Σ over a = b as well, each molecule paired with itself).

    A sum over all ordered pairs of distinct species, so the order in which components are listed cannot matter.
    Two equivalent evaluations, picked by size: for a small batch vocabulary the mixtures' compositions over the
    vocabulary, X [B, V], give the pair weights X_a X_b as one [B, V²] × [V², H] matrix product (fast, and the
    [B, C, C, H] gather that dominated batched inference never exists); for a large vocabulary that dense product
    would outgrow the gather, so the pairs of listed slots are gathered instead.
    """
    V, _, H = table.shape
    B, C = idx.shape
    present = (idx >= 0).to(x.dtype)
    ii = idx.clamp(min=0)
    if V * V <= C * C * H:
        X = x.new_zeros(B, V).scatter_add(1, ii, x * present)
        XX = X.unsqueeze(2) * X.unsqueeze(1)
        if not include_self:
            XX = XX * (1.0 - torch.eye(V, dtype=x.dtype, device=x.device))
        return XX.reshape(B, V * V) @ table.reshape(V * V, H)
    xp = x * present
    xx = xp.unsqueeze(2) * xp.unsqueeze(1)
    if not include_self:
        xx = xx * (ii.unsqueeze(2) != ii.unsqueeze(1)).to(x.dtype)
    return (xx.unsqueeze(-1) * table[ii.unsqueeze(2), ii.unsqueeze(1)]).sum(dim=(1, 2))


class MixtureModel(nn.Module):
    """Base: a shared molecular encoder plus a mixture head."""

    kind = "base"
    # True where the head runs under torch.func.vmap (Ensemble's vectorised members), which allows no operation whose
    # output shape depends on the data: a head that selects rows or pairs by value then computes them all instead
    static_shapes = False

    def __init__(self, *, log_scale: bool, target_scale: float = 1.0, hidden: int = 64, gnn_layers: int = 3,
                 mol_descriptors: bool = False):
        super().__init__()
        self.log_scale = log_scale
        self.register_buffer("target_scale", torch.tensor(float(target_scale)))
        # mol_descriptors=True: each molecule's embedding also reads its whole-molecule descriptors (size,
        # polarisability, polarity, flexibility; featurize.MOL_DESCRIPTORS), a study option for unseen solvents
        self.encoder = MoleculeEncoder(hidden=hidden, layers=gnn_layers, out=hidden, descriptors=mol_descriptors)
        # the terms the solvents' tabulated viscosity and permittivity add to a conductivity (model.nn.solvent): off
        # here, set by the conductivity heads that take them (no parameters, nothing in a checkpoint, when off)
        self.solvent_laws = SolventLaws()

    @property
    def walden(self) -> float:
        return self.solvent_laws.walden

    @property
    def permittivity(self) -> bool:
        return self.solvent_laws.permittivity

    @property
    def mol_descriptors(self) -> bool:
        """Whether the encoder reads whole-molecule descriptors: the encoder's own setting, kept in one place."""
        return self.encoder.descriptors

    def encode(self, mols) -> torch.Tensor:
        return self.encoder(mols.graphs, mols.descriptors if self.mol_descriptors else None)

    def mix(self, emb, idx, x, T, P) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, mols, idx, x, T, P) -> torch.Tensor:
        return self.mix(self.encode(mols), idx, x, T, P)

    def log_mix(self, emb, idx, x, T, P) -> torch.Tensor:
        """ln of the prediction (for a positive, log-scale property); a law with a log form of its own overrides it."""
        return torch.log(self.mix(emb, idx, x, T, P))

    def log_forward(self, mols, idx, x, T, P) -> torch.Tensor:
        """``forward`` in ln, through ``log_mix``: the training loss and the blend-consistency term use it."""
        return self.log_mix(self.encode(mols), idx, x, T, P)

    def _out(self, raw: torch.Tensor) -> torch.Tensor:
        """Baseline heads predict ln κ for log-scale properties and y / scale otherwise."""
        return torch.exp(raw) if self.log_scale else raw * self.target_scale


class DiffMixRedlichKister(MixtureModel):
    """P = Σ_{i<j} x_i x_j Σ_k G1^k (x_i − x_j)^k [+ Σ_i x_i G2(x_i, g_i, E)] with G1 symmetrised by construction."""

    kind = "diffmix"

    def __init__(self, *, order: int = 4, pure_term: bool = False, hidden: int = 64, **kw):
        super().__init__(hidden=hidden, **kw)
        self.order = order
        self.pure_term = pure_term
        self.pair = mlp([2 * hidden + 2 + 2, 2 * hidden, hidden, order + 1])
        self.pure = mlp([hidden + 1 + 2, hidden, 1]) if pure_term else None

    def coefficients(self, emb, idx, x, T, P) -> torch.Tensor:
        """The Redlich–Kister coefficients G1^k for every ordered pair, [B, C, C, N+1], in property units."""
        h = gather(emb, idx)
        B, C, H = h.shape
        e = conditions(T, P)
        hi = h.unsqueeze(2).expand(B, C, C, H)
        hj = h.unsqueeze(1).expand(B, C, C, H)
        xi = x.unsqueeze(2).expand(B, C, C).unsqueeze(-1)
        xj = x.unsqueeze(1).expand(B, C, C).unsqueeze(-1)
        ee = e[:, None, None, :].expand(B, C, C, e.shape[-1])
        raw = self.pair(torch.cat([hi, hj, xi, xj, ee], dim=-1))
        return laws.symmetrise_pair_coefficients(raw) * self.target_scale

    def mix(self, emb, idx, x, T, P):
        out = laws.redlich_kister(x, self.coefficients(emb, idx, x, T, P))
        if self.pure is not None:
            h = gather(emb, idx)
            e = conditions(T, P).unsqueeze(1).expand(-1, h.shape[1], -1)
            g2 = self.pure(torch.cat([h, x.unsqueeze(-1), e], dim=-1)).squeeze(-1)
            out = out + laws.linear_mixing(x, g2) * self.target_scale
        return out


class DiffMixVFT(MixtureModel):
    """κ = A exp(−B / (T − T0)); (ln A, B, T0) from a composition-weighted pooling of component embeddings.

    By default temperature is *not* an input of the coefficients: if it were, the network could bend the VFT law
    at will and the physics prior would no longer carry the temperature dependence (which is what makes
    extrapolation to unseen temperatures work). ``coeff_temperature=True`` feeds T into E as the paper's Eq. 6
    allows, for comparison. Pressure is always in E.

    ``carrier_density=True`` writes the prefactor as A = x_ions · A', with x_ions = Σ x_i over the charged species
    (the ions of the salts) and A' from the network: conductivity is carried by ions, so κ ∝ the number of
    carriers as the salt is diluted (the Nernst–Einstein and Kohlrausch limit, κ = Σ c_i z_i² F² D_i / RT), and a
    salt-free mixture does not conduct. The network then learns how the carriers' mobility changes with
    composition (ion pairing, viscosity) instead of the carrier count as well. To know which molecules are ions,
    ``encode`` appends each molecule's |net charge| > 0 flag to its embedding; ``vft_coefficients`` splits it off.

    ``max_prefactor=A_max`` (mS/cm) bounds the prefactor smoothly, ln A = ln A_max − softplus(ln A_max − a) for the
    head's a: unchanged where a is well below (CALiSol-23's fitted A: median about 90 mS/cm, largest about 1,500), and
    never above A_max. Since κ < A at every temperature, a mixture unlike any trained on cannot be answered with an
    unbounded conductivity far above its trained temperatures (an unbounded head gave A ≈ 2·10⁹ and κ = 811 mS/cm for
    LiBPFPB in PC at 204 °C, measured ≤ 10.3). ``bound_sharpness=k`` writes the bound as
    ln A_max − softplus(k (ln A_max − a)) / k: a lowers ln A by about (A / A_max)^k, so with k = 4 a prefactor of
    A_max / 10 moves by 10⁻⁴ where k = 1 moves it by 10 %. Made for the anchored head (below), where every change of
    ln A is a change of the level the head gave; measured there, and not better (benchmarks/RESULTS.md, issue 19).

    ``prefactor_power=n`` writes κ = A (T_ref/T)^n exp(−B / (T − T0)): with n = 1 the Nernst–Einstein relation
    (κ = F² Σ c_i z_i² D_i / RT) applied to ions whose diffusivity follows VFT. The factor is fixed, not learned,
    so temperature still enters only through the law.

    ``anchor_temperature_K=T_a`` lets the head give ln κ(T_a) in place of ln A, with ln A = ln κ(T_a) + B / (T_a − T0):
    the same law, centred on the data's temperatures. Fitted to cold rows, ln A and B are strongly correlated, so a
    mixture the network has not seen (a blend of three solvents) can get the two wrong together; κ(T_a), the curve's
    level, is what the rows pin down, and what GNN-only's direct output extrapolates. A study option.

    ``walden=α`` and ``permittivity=True`` add what the solvents' tabulated viscosity and permittivity say (Walden's
    rule, ion pairing; ``model.nn.solvent``) to ln A: the network learns what they leave out. Study options.
    """

    kind = "diffmix"

    def __init__(self, *, hidden: int = 64, log_prefactor_init: float = math.log(100.0), pair_pool: bool = True,
                 coeff_temperature: bool = False, coeff_layers: int = 1, carrier_density: bool = False,
                 prefactor_power: float = 0.0, blend_order: int | None = None, solvent_pairs: bool = True,
                 like_pairs: bool = False, binary_blend: bool = False, max_prefactor: float | None = None,
                 bound_sharpness: float = 1.0,
                 walden: float = 0.0, permittivity: bool = False, salt_dielectric: bool = False,
                 ion_association: bool = False,
                 walden_learned: bool = False, anchor_temperature_K: float | None = None, **kw):
        super().__init__(hidden=hidden, **kw)
        self.solvent_laws = SolventLaws(walden, permittivity, salt_dielectric, ion_association, walden_learned)
        if anchor_temperature_K is not None and not (math.isfinite(anchor_temperature_K)
                                                     and anchor_temperature_K > VOGEL_T_MAX_K):
            raise ValueError(f"anchor_temperature_K must lie above the largest Vogel temperature, {VOGEL_T_MAX_K} K "
                             f"(e.g. 298.15), got {anchor_temperature_K}")
        self.anchor_temperature_K = anchor_temperature_K
        # solvent_pairs=False: the pairwise pooling keeps the pairs with an ion (ion–solvent, cation–anion) and
        # drops solvent–solvent pairs, so every term of a blend's representation is one its binaries (with that
        # salt) taught: a ternary of solvents seen pairwise with the salt holds no pair term the model never fitted
        self.solvent_pairs = solvent_pairs
        # like_pairs=True: ψ sees a pair only through (h_a + h_b, |h_a − h_b|) and the pooling includes a = b, so a
        # molecule paired with itself is fitted by every row that holds it, and a pair of similar molecules never
        # seen together (DMC and EMC) is answered near what each does with itself: like molecules mix ideally
        self.like_pairs = like_pairs
        # blend_order = n: the coefficients of a multi-solvent electrolyte follow a composition law themselves
        # (laws.redlich_kister_blend): the head runs once per solvent on "the salt in that solvent alone" and
        # the results are mixed by the solvent shares, with pair corrections up to order n (None: one pooled head)
        self.blend_order = blend_order
        # binary_blend=True: a blend of three or more solvents has the mean coefficients (ln A, B, T0) of its binary
        # sub-blends, weighted by s_j s_k (laws.blend_from_binaries), so every term of it is a binary the data can
        # teach; mixtures with one or two solvents are answered by the head as they are
        if binary_blend and blend_order is not None:
            raise ValueError("binary_blend and blend_order are two blend laws; choose one")
        self.binary_blend = binary_blend
        if blend_order is not None:
            if not 0 <= blend_order <= 4:
                raise ValueError(f"blend_order must be 0–4, got {blend_order}")
            # d^n_jk from (h_j, h_k, the salt's pooled embedding, the ions' total fraction)
            self.blend_pair = mlp([3 * hidden + 1, 2 * hidden, hidden, 3 * (blend_order + 1)])
        self.pair_pool = pair_pool
        self.prefactor_power = float(prefactor_power)
        if max_prefactor is not None and not (math.isfinite(max_prefactor) and max_prefactor > 0):
            raise ValueError(f"max_prefactor must be a positive number of mS/cm, got {max_prefactor}")
        self.max_prefactor = max_prefactor
        if not (math.isfinite(bound_sharpness) and bound_sharpness > 0):
            raise ValueError(f"bound_sharpness must be a positive number, got {bound_sharpness}")
        self.bound_sharpness = float(bound_sharpness)
        self.carrier_density = carrier_density
        self.coeff_temperature = coeff_temperature
        self.component = mlp([hidden + 1, hidden, hidden], last_act=True)
        # Pairwise pooling Σ_{i≠j} x_i x_j ψ(h_i, h_j): ion–solvent and solvent–solvent interactions. A sum over
        # all ordered pairs is invariant to the order of components by construction.
        self.pair = mlp([2 * hidden, hidden, hidden], last_act=True) if pair_pool else None
        n_pooled = (3 if pair_pool else 2) * hidden
        n_cond = 2 if coeff_temperature else 1
        # coeff_layers hidden layers map the pooled mixture to (ln A, B, T0): one of width H (the first shipped
        # models), or 2H … H like GNN-only's head, so the two heads have the same capacity.
        self.coeff = mlp([n_pooled + n_cond, *[2 * hidden] * (coeff_layers - 1), hidden, 3])
        # with the carrier density factored out, A' starts at A / (a typical electrolyte's ion fraction)
        self.log_prefactor_init = log_prefactor_init - (math.log(TYPICAL_ION_FRACTION) if carrier_density else 0.0)
        if anchor_temperature_K is not None:  # ln κ(T_a) of the ln A head's starting curve (a zero output), from the
            # same bounds as every other curve, so the anchored head starts where that head starts
            b0, t0_0 = self._vogel(torch.zeros(3, dtype=torch.float64))
            self._anchor_start = self.log_prefactor_init - float(b0 / (anchor_temperature_K - t0_0))

    @property
    def _flags_charge(self) -> bool:
        return self.carrier_density or self.blend_order is not None or not self.solvent_pairs or self.binary_blend

    def encode(self, mols) -> torch.Tensor:
        """The molecules' embeddings [V, H], then (when the law needs them) a column of charge flags (1 for an ion)
        and the solvent-property columns of ``solvent_laws``; ``vft_coefficients`` splits them off again."""
        emb = super().encode(mols)
        columns = [emb]
        if self._flags_charge:
            columns.append((mols.charges != 0).to(emb.dtype).unsqueeze(-1))
        if self.solvent_laws.active:
            columns.append(self.solvent_laws.columns(mols, emb.dtype))
        return torch.cat(columns, dim=-1) if len(columns) > 1 else emb

    def pair_table(self, emb: torch.Tensor, charged: torch.Tensor | None = None) -> torch.Tensor:
        """ψ for every ordered pair of the batch's V molecules, [V, V, H]: it depends only on the two molecules, so
        it is evaluated once per molecule pair (V² rows), not once per mixture pair (B·C² rows). ``charged`` [V, 1]
        (which molecules are ions) is needed when solvent–solvent pairs are left out; their rows are then 0."""
        if self.pair is None:
            raise ValueError("this model has no pairwise pooling (pair_pool=False)")
        V, H = emb.shape
        ha, hb = emb.unsqueeze(1).expand(V, V, H), emb.unsqueeze(0).expand(V, V, H)
        table: torch.Tensor = self.pair(torch.cat([ha + hb, (ha - hb).abs()] if self.like_pairs else [ha, hb], dim=-1))
        if not self.solvent_pairs:
            if charged is None:
                raise ValueError("leaving out solvent–solvent pairs needs to know which molecules are ions")
            ion = charged.reshape(V, 1)
            table = table * (1.0 - (1.0 - ion) * (1.0 - ion.T)).unsqueeze(-1)  # 0 where both are neutral
        return table

    def _raw_coefficients(self, emb, idx, x, T, P, charged: torch.Tensor | None = None) -> torch.Tensor:
        """The head's raw (ln A, B, T0) outputs [B, 3] from the composition-weighted pooling of one mixture
        (``charged`` [V, 1]: which molecules are ions, needed when solvent–solvent pairs are left out)."""
        h = gather(emb, idx)
        phi = self.component(torch.cat([h, x.unsqueeze(-1)], dim=-1))
        w = x.unsqueeze(-1)
        feats = [(w * phi).sum(1), (w * h).sum(1)]
        if self.pair is not None:
            feats.append(pair_pool(self.pair_table(emb, charged), idx, x, include_self=self.like_pairs))
        pooled = torch.cat(feats, dim=-1)
        out: torch.Tensor = self.coeff(torch.cat([pooled, conditions(T, P, with_temperature=self.coeff_temperature)], dim=-1))
        return out

    def _blend_coefficients(self, emb, charged, idx, x, T, P) -> torch.Tensor:
        """Raw coefficients [B, 3] of each mixture by the blend law (see ``blend_order``): the head on the salt in
        each solvent alone (same ion fractions, that solvent making up the rest), mixed by the solvent shares."""
        B, C = idx.shape
        ion, solvent = ion_and_solvent_slots(charged, idx, x.dtype)
        x_ions = x * ion
        ion_total = x_ions.sum(1)  # [B]
        x_solvents = x * solvent
        shares = x_solvents / x_solvents.sum(1, keepdim=True).clamp_min(MIN_FRACTION)
        # one virtual mixture per slot j: the ions as they are, solvent j the rest (slots that are not solvents
        # get weight s_j = 0 below, so what the head says for them does not matter)
        eye = torch.eye(C, dtype=x.dtype, device=x.device)
        xv = x_ions.unsqueeze(1) + (1.0 - ion_total)[:, None, None] * eye.unsqueeze(0) * solvent.unsqueeze(1)
        rep = lambda t: t.repeat_interleave(C, dim=0)
        pure = self._raw_coefficients(emb, rep(idx), xv.reshape(B * C, C), rep(T), rep(P), charged).reshape(B, C, 3)
        h = gather(emb, idx)
        salt = (x_ions.unsqueeze(-1) * h).sum(1) / ion_total.clamp_min(MIN_FRACTION).unsqueeze(-1)  # [B, H]
        H = h.shape[-1]
        ctx = torch.cat([salt, ion_total.unsqueeze(-1)], dim=-1)[:, None, None, :].expand(B, C, C, H + 1)
        raw = self.blend_pair(torch.cat([h.unsqueeze(2).expand(B, C, C, H), h.unsqueeze(1).expand(B, C, C, H), ctx], dim=-1))
        raw = raw.reshape(B, C, C, 3, -1)  # [B, C, C, coefficient, order]
        pair = torch.stack([laws.symmetrise_pair_coefficients(raw[..., d, :]) for d in range(3)], dim=-2)
        return laws.redlich_kister_blend(shares, pure, pair)

    @staticmethod
    def _vogel(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's raw outputs [.., 3] → B and T0, within their bounds."""
        return (torch.nn.functional.softplus(o[..., 1] + B_OFFSET) * B_SCALE_K,
                torch.sigmoid(o[..., 2]) * VOGEL_T_MAX_K)

    def _physical(self, o: torch.Tensor) -> torch.Tensor:
        """The head's raw outputs [.., 3] → (ln A without the carrier term, B, T0) [.., 3], within their bounds."""
        b, t0 = self._vogel(o)
        if self.anchor_temperature_K is None:
            log_a = self.log_prefactor_init + o[..., 0]
        else:  # o[..., 0] is ln κ at the anchor, counted from the level the ln A head starts at
            t_a = self.anchor_temperature_K
            log_a = self._anchor_start + o[..., 0] + b / (t_a - t0)
        if self.max_prefactor is not None:
            log_max = math.log(self.max_prefactor)
            log_a = log_max - torch.nn.functional.softplus(log_max - log_a, beta=self.bound_sharpness)
        return torch.stack([log_a, b, t0], dim=-1)

    def _binary_blend_coefficients(self, coeffs, emb, charged, idx, x, T, P) -> torch.Tensor:
        """``coeffs`` [B, 3] with the rows of three or more solvents replaced by the mean of their binary sub-blends'
        coefficients (see ``binary_blend``): the sub-blend of solvents j and k has the ions as they are and j, k in
        the proportion s_j : s_k making up the rest."""
        ion, solvent = ion_and_solvent_slots(charged, idx, x.dtype)
        multi = solvent.sum(1) >= 3
        B, C = idx.shape
        pairs = torch.triu_indices(C, C, offset=1, device=idx.device).T  # [P, 2] slot pairs j < k
        if self.static_shapes:  # every row and slot pair (see MixtureModel.static_shapes)
            rows = torch.arange(B, device=idx.device)
        else:  # only the blends, and the pairs of slots that hold two solvents in one of them
            rows = multi.nonzero().squeeze(1)
            if len(rows) == 0:
                return coeffs
            pairs = pairs[(solvent[rows][:, pairs[:, 0]] * solvent[rows][:, pairs[:, 1]]).amax(0) > 0]
        idx_m, x_m, solvent_m, ion_m = idx[rows], x[rows], solvent[rows], ion[rows]
        M, n_pairs = len(rows), len(pairs)
        shares = x_m * solvent_m
        s_j, s_k = shares[:, pairs[:, 0]], shares[:, pairs[:, 1]]  # [M, P]
        total = (s_j + s_k).clamp_min(MIN_FRACTION)
        x_ions = x_m * ion_m
        rest = (1.0 - x_ions.sum(1))[:, None, None]
        eye = torch.eye(C, dtype=x.dtype, device=x.device)
        xv = x_ions.unsqueeze(1) + rest * ((s_j / total).unsqueeze(-1) * eye[pairs[:, 0]]
                                           + (s_k / total).unsqueeze(-1) * eye[pairs[:, 1]])  # [M, P, C]
        rep = lambda t: t.repeat_interleave(n_pairs, dim=0)
        raw = self._raw_coefficients(emb, rep(idx_m), xv.reshape(M * n_pairs, C), rep(T[rows]), rep(P[rows]), charged)
        blend = laws.blend_from_binaries(shares, pairs, self._physical(raw).reshape(M, n_pairs, 3))
        # a mean of values ≤ VOGEL_T_MAX_K may round above it by an ulp; the bound is what keeps T0 below every T
        blend = torch.cat([blend[:, :2], blend[:, 2:].clamp(max=VOGEL_T_MAX_K)], dim=-1)
        return coeffs.index_copy(0, rows, torch.where(multi[rows].unsqueeze(-1), blend, coeffs[rows]))

    def vft_coefficients(self, emb, idx, x, T, P) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        log_carriers = None
        charged = None
        solvent_cols = None
        if self.solvent_laws.active:
            emb, solvent_cols = emb[:, :-N_COLUMNS], emb[:, -N_COLUMNS:]
        if self._flags_charge:
            emb, charged = emb[:, :-1], emb[:, -1:]
        if self.carrier_density:
            x_ions = (x * ion_and_solvent_slots(charged, idx, x.dtype)[0]).sum(1)
            log_carriers = torch.log(x_ions.clamp_min(MIN_FRACTION))
        if self.blend_order is None:
            o = self._raw_coefficients(emb, idx, x, T, P, charged)
        else:
            o = self._blend_coefficients(emb, charged, idx, x, T, P)
        coeffs = self._physical(o)
        if self.binary_blend:
            coeffs = self._binary_blend_coefficients(coeffs, emb, charged, idx, x, T, P)
        log_a, b, t0 = coeffs.unbind(-1)
        if log_carriers is not None:
            log_a = log_a + log_carriers
        if solvent_cols is not None:
            log_a = log_a + self.solvent_laws(solvent_cols, idx, x)
        return log_a, b, t0

    def log_mix(self, emb, idx, x, T, P):
        log_kappa = laws.log_vft(T, *self.vft_coefficients(emb, idx, x, T, P))
        if self.prefactor_power:
            log_kappa = log_kappa - self.prefactor_power * torch.log(T / T_REF_K)
        return log_kappa

    def mix(self, emb, idx, x, T, P):
        return torch.exp(self.log_mix(emb, idx, x, T, P))


class GNNOnly(MixtureModel):
    """The paper's data-driven baseline: Σ_i x_i h_i (+ E) → MLP → property. No physics law."""

    kind = "gnn_only"

    def __init__(self, *, hidden: int = 64, walden: float = 0.0, permittivity: bool = False,
                 salt_dielectric: bool = False, ion_association: bool = False,
                 walden_learned: bool = False, **kw):
        super().__init__(hidden=hidden, **kw)
        self.head = mlp([hidden + 2, 2 * hidden, hidden, 1])
        # the same solvent-property terms as DiffMixVFT's (model.nn.solvent), added to ln κ: the same tabulated
        # knowledge, for a comparison of the two models on equal terms (conductivity only)
        self.solvent_laws = SolventLaws(walden, permittivity, salt_dielectric, ion_association, walden_learned)
        if self.solvent_laws.active and not self.log_scale:
            raise ValueError("the solvent terms (walden, permittivity) are terms of a conductivity; this property is not one")

    def encode(self, mols) -> torch.Tensor:
        emb = super().encode(mols)
        return torch.cat([emb, self.solvent_laws.columns(mols, emb.dtype)], dim=-1) if self.solvent_laws.active else emb

    def mix(self, emb, idx, x, T, P):
        solvent_cols = None
        if self.solvent_laws.active:
            emb, solvent_cols = emb[:, :-N_COLUMNS], emb[:, -N_COLUMNS:]
        pooled = (x.unsqueeze(-1) * gather(emb, idx)).sum(1)
        raw = self.head(torch.cat([pooled, conditions(T, P)], dim=-1)).squeeze(-1)
        if solvent_cols is not None:
            raw = raw + self.solvent_laws(solvent_cols, idx, x)
        return self._out(raw)


class LinearMixing(MixtureModel):
    """Σ_i x_i G2(x_i, g_i, E): the DiffMix law with its excess term removed (the paper's Figure 2 baseline)."""

    kind = "linear_mixing"

    def __init__(self, *, hidden: int = 64, **kw):
        super().__init__(hidden=hidden, **kw)
        self.pure = mlp([hidden + 1 + 2, hidden, 1])

    def mix(self, emb, idx, x, T, P):
        h = gather(emb, idx)
        e = conditions(T, P).unsqueeze(1).expand(-1, h.shape[1], -1)
        g2 = self.pure(torch.cat([h, x.unsqueeze(-1), e], dim=-1)).squeeze(-1)
        return self._out(laws.linear_mixing(x, g2))


class Fingerprint(MixtureModel):
    """ECFP (radius 2, 1024 bits) of each component concatenated in input order with fractions and E → MLP.

    Deliberately not permutation invariant (the paper's SI baseline): the slot a component sits in matters.
    """

    kind = "fingerprint"

    def __init__(self, *, hidden: int = 64, max_components: int = 2, fp_bits: int = 1024, **kw):
        super().__init__(hidden=hidden, **kw)
        del self.encoder  # no learned molecular encoder: the ECFP bits are the molecule's features
        self.max_components = max_components
        self.head = mlp([max_components * (fp_bits + 1) + 2, 2 * hidden, hidden, 1])

    def encode(self, mols) -> torch.Tensor:
        return mols.fingerprints.to(self.target_scale.dtype)

    def mix(self, emb, idx, x, T, P):
        B, C = idx.shape
        if C > self.max_components:
            raise ValueError(f"the fingerprint model was built for at most {self.max_components} components, got {C}")
        fp = gather(emb, idx)
        feats = torch.cat([fp, x.unsqueeze(-1)], dim=-1)
        if C < self.max_components:
            feats = torch.nn.functional.pad(feats, (0, 0, 0, self.max_components - C))
        inp = torch.cat([feats.reshape(B, -1), conditions(T, P)], dim=-1)
        return self._out(self.head(inp).squeeze(-1))


MODEL_KINDS = ("diffmix", "gnn_only", "fingerprint", "linear_mixing")


def accepted_options(cls: type[MixtureModel]) -> set[str]:
    """The keyword options a model class takes, its own and those its ``**kw`` hands on to its bases."""
    return {name for c in cls.__mro__ if issubclass(c, MixtureModel)
            for name, p in inspect.signature(c.__init__).parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build(kind: str, law: str, **config) -> MixtureModel:
    """The model for ``kind`` and ``law``. An option the model does not know is an error, never ignored: a checkpoint
    from a version with an option this one lacks would otherwise load as a different model, silently."""
    if kind == "diffmix":
        cls = DiffMixVFT if law == "vft" else DiffMixRedlichKister
    else:
        cls = {"gnn_only": GNNOnly, "fingerprint": Fingerprint, "linear_mixing": LinearMixing}.get(kind)
    if cls is None:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    unknown = sorted(set(config) - accepted_options(cls))
    if unknown:
        raise ValueError(f"the {kind} model for the {law} law has no option {', '.join(map(repr, unknown))}")
    return cls(**config)
