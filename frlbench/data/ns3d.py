"""Pseudo-spectral solver of the 3D incompressible Navier–Stokes equations on a periodic box.

    ∂u/∂t = u × ω − ∇(p + ½|u|²) + ν ∇²u + f,    ∇·u = 0,    ω = ∇ × u

The nonlinear term is taken in rotational form and evaluated in physical space with the
2/3 rule (modes with max-norm ``|k| < 2/3 · k_Nyquist`` are kept, the rest are zero), the
pressure is removed by the Leray projection ``P = I − k kᵀ / |k|²``, viscosity is integrated
exactly by an integrating factor ``exp(−ν|k|²t)``, and the rest is advanced with classical RK4.

The spectral state holds *only* the dealiased modes: a cube of ``(2K+1, 2K+1, K+1)``
coefficients in ``rfftn`` order (amplitudes, ``norm="forward"``), where ``K`` is the largest
retained integer wavenumber. The 2/3 rule in the max norm keeps exactly that cube, so every
spectral operation runs on ~30 % of the full ``rfftn`` array and needs no mask. The inverse
transform skips the all-zero lines of the padded array (a pruned FFT, one axis at a time);
the forward one is a full ``rfftn`` followed by a gather of the cube.

Every wavenumber comes from :mod:`frlbench.spectral`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from frlbench import spectral

FORCINGS = ("none", "linear", "kolmogorov")
MIN_RESOLUTION = 8
"""Smallest solver grid: under the 2/3 rule an 8³ grid keeps only ``|k_i| ≤ 2``."""
RK4_CFL_LIMIT = 2 * math.sqrt(2) * 3 / (2 * math.pi)
"""Linear stability limit of RK4 (``2√2`` on the imaginary axis) for the advective CFL number
``dt · max(|u|+|v|+|w|) / dx`` with the 2/3 rule (largest retained ``|k_i| ≈ (2/3)·π/dx``)."""


class BlowUpError(RuntimeError):
    """The solution stopped being finite (or its CFL number passed the allowed maximum).

    Attributes:
        time: Simulation time at which the problem was detected.
        step: Solver step at which it was detected.
        cfl: CFL number at that time (``nan`` for a non-finite field).
        speed: ``max(|u|+|v|+|w|)`` at that time (``nan`` for a non-finite field).
    """

    def __init__(
        self, message: str, time: float, step: int, cfl: float = math.nan, speed: float = math.nan
    ) -> None:
        super().__init__(message)
        self.time, self.step, self.cfl, self.speed = time, step, cfl, speed


@dataclass(frozen=True)
class Forcing:
    """A body force ``f``.

    Attributes:
        kind: ``"none"``; ``"linear"``: Lundgren's linear forcing ``f = A(t) u`` on the modes
            ``|k| ≤ wavenumber`` (``0``: every mode, as in Lundgren's original), with ``A(t) =
            power / (2 K_f(t))`` so the injected power is exactly ``power`` (``K_f``: kinetic
            energy of the forced modes); ``"kolmogorov"``: ``f = amplitude · sin(wavenumber ·
            y) e_x``.
        power: Energy injection rate ε of the linear forcing (> 0).
        wavenumber: Linear: radius of the forced band (≥ 0); Kolmogorov: the integer
            wavenumber (≥ 1, in units of the box's fundamental wavenumber).
        amplitude: Amplitude of the Kolmogorov forcing.
    """

    kind: str = "none"
    power: float = 0.1
    wavenumber: float = 2.0
    amplitude: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FORCINGS:
            raise ValueError(
                f"unknown forcing {self.kind!r}; valid: " + ", ".join(repr(f) for f in FORCINGS)
            )
        if self.kind == "linear":
            if not self.power > 0:
                raise ValueError(f"linear forcing power must be > 0, got {self.power}")
            if self.wavenumber < 0:
                raise ValueError(f"linear forcing wavenumber must be >= 0, got {self.wavenumber}")
        if self.kind == "kolmogorov" and (
            self.wavenumber < 1 or self.wavenumber != int(self.wavenumber)
        ):
            raise ValueError(
                f"Kolmogorov forcing wavenumber must be an integer >= 1, got {self.wavenumber}"
            )


def make_forcing(forcing: str | Forcing | None) -> Forcing:
    """A :class:`Forcing` from a name (default parameters), a Forcing, or ``None`` (none)."""
    if forcing is None:
        return Forcing("none")
    if isinstance(forcing, Forcing):
        return forcing
    return Forcing(str(forcing))


def dealias_cutoff(n: int) -> int:
    """Largest integer wavenumber index kept by the 2/3 rule on an ``n``-point axis (``< n/3``)."""
    return (n - 1) // 3


class NS3DSolver:
    """Pseudo-spectral incompressible Navier–Stokes on the periodic box ``[0, length)³``.

    Args:
        n: Grid points per axis (even, ``>= 8``).
        viscosity: Kinematic viscosity ν ≥ 0.
        forcing: ``None``, a name in :data:`FORCINGS`, or a :class:`Forcing`.
        dtype: Real dtype of the fields (``torch.float64`` or ``torch.float32``).
        device: Where the fields live (``"cpu"``, ``"cuda"``, ...).
        length: Side of the box (default 2π).
    """

    def __init__(
        self,
        n: int,
        viscosity: float,
        forcing: str | Forcing | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        length: float = spectral.TWO_PI,
    ) -> None:
        if n < MIN_RESOLUTION or n % 2:
            raise ValueError(f"grid size n must be even and >= {MIN_RESOLUTION}, got {n}")
        if not viscosity >= 0:
            raise ValueError(f"viscosity must be >= 0, got {viscosity}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.n = n
        self.viscosity = float(viscosity)
        self.forcing = make_forcing(forcing)
        self.dtype = dtype
        self.cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        self.device = torch.device(device)
        self.length = float(length)
        self.shape = (n, n, n)
        self.full_spectral_shape = (n, n, n // 2 + 1)
        self.cutoff = dealias_cutoff(n)
        kc = self.cutoff
        self.spectral_shape = (2 * kc + 1, 2 * kc + 1, kc + 1)
        # Indices of the kept modes along each full axis, in FFT order: 0..K, then n-K..n-1.
        self._index = torch.cat([torch.arange(kc + 1), torch.arange(n - kc, n)]).to(self.device)
        grids = spectral.wavenumber_grid(
            self.shape, (self.length,) * 3, real=True, dtype=dtype, device=self.device
        )
        kx = grids[0].index_select(0, self._index)
        ky = grids[1].index_select(1, self._index)
        kz = grids[2].narrow(2, 0, kc + 1)
        self.k = (kx, ky, kz)
        self.ik = tuple((1j * k).to(self.cdtype) for k in self.k)
        self.k2 = kx**2 + ky**2 + kz**2
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1e-30), 0.0)
        # rfftn keeps half of the last axis: every mode but kz = 0 stands for itself and its
        # conjugate (the Nyquist plane is never kept).
        weight = torch.full((kc + 1,), 2.0, dtype=dtype, device=self.device)
        weight[0] = 1.0
        self.weight = weight
        self._factor_cache: tuple[float, torch.Tensor, torch.Tensor] | None = None
        self._buffers: dict[str, torch.Tensor] = {}
        self._setup_forcing()

    # ------------------------------------------------------------------ transforms
    def _buffer(self, key: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A zero-initialised scratch tensor, allocated once per key and shape."""
        key = f"{key}{shape}"
        if key not in self._buffers:
            self._buffers[key] = torch.zeros(shape, dtype=dtype, device=self.device)
        return self._buffers[key]

    def _blocks(self, full: torch.Tensor) -> list[tuple[torch.Tensor, slice, slice]]:
        """Views of ``full`` holding the kept cube, and the matching slices of the cube."""
        kc, n = self.cutoff, self.n
        lo, hi = slice(0, kc + 1), slice(n - kc, n)
        clo, chi = slice(0, kc + 1), slice(kc + 1, 2 * kc + 1)
        out = []
        for fx, cx in ((lo, clo), (hi, chi)):
            for fy, cy in ((lo, clo), (hi, chi)):
                out.append((full[..., fx, fy, : kc + 1], cx, cy))
        return out

    def _scatter(self, coeffs: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        """Write the kept cube into a full rfftn array whose other modes are zero."""
        for view, cx, cy in self._blocks(full):
            view.copy_(coeffs[..., cx, cy, :])
        return full

    def _gather(self, full: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Read the kept cube out of a full rfftn array."""
        for view, cx, cy in self._blocks(full):
            out[..., cx, cy, :].copy_(view)
        return out

    def to_spectral(self, u: torch.Tensor) -> torch.Tensor:
        """Dealiased Fourier amplitudes ``(..., 3, *spectral_shape)`` of a physical field.

        Modes outside the 2/3-rule cube are dropped; no projection is applied.
        """
        u = u.to(dtype=self.dtype, device=self.device)
        full = torch.fft.rfftn(u, dim=(-3, -2, -1), norm="forward")
        out = torch.empty((*u.shape[:-3], *self.spectral_shape), dtype=self.cdtype, device=u.device)
        return self._gather(full, out)

    def to_physical(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Physical field ``(..., n, n, n)`` of dealiased amplitudes ``(..., *spectral_shape)``."""
        full = torch.zeros(
            (*coeffs.shape[:-3], *self.full_spectral_shape), dtype=self.cdtype, device=self.device
        )
        self._scatter(coeffs, full)
        return torch.fft.irfftn(full, s=self.shape, dim=(-3, -2, -1), norm="forward")

    def project(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Leray projection onto divergence-free fields (returns a new tensor)."""
        kx, ky, kz = self.k
        c0, c1, c2 = coeffs.unbind(-4)
        kdotc = (kx * c0 + ky * c1 + kz * c2) * self.inv_k2
        return torch.stack([c0 - kx * kdotc, c1 - ky * kdotc, c2 - kz * kdotc], dim=-4)

    # ------------------------------------------------------------------ diagnostics
    def _mode_sum(self, power: torch.Tensor) -> torch.Tensor:
        """Σ over all (full-grid) modes of a per-mode quantity given on the half grid."""
        return (power * self.weight).sum(dim=(-3, -2, -1))

    def energy(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Kinetic energy ``K = ½⟨|u|²⟩`` per leading index of ``(..., 3, *spectral_shape)``."""
        return 0.5 * self._mode_sum((coeffs.abs() ** 2).sum(dim=-4))

    def enstrophy(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Enstrophy ``Ω = ½⟨|ω|²⟩`` of a divergence-free field (``|k × û|² = |k|²|û|²``)."""
        return 0.5 * self._mode_sum(self.k2 * (coeffs.abs() ** 2).sum(dim=-4))

    def dissipation(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Viscous dissipation rate ``ε = 2νΩ``."""
        return 2 * self.viscosity * self.enstrophy(coeffs)

    def divergence(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Physical divergence ``∇·u`` of dealiased amplitudes."""
        ikx, iky, ikz = self.ik
        c0, c1, c2 = coeffs.unbind(-4)
        return self.to_physical(ikx * c0 + iky * c1 + ikz * c2)

    @property
    def dx(self) -> float:
        """Grid spacing."""
        return self.length / self.n

    def cfl(self, u: torch.Tensor, dt: float) -> float:
        """Advective CFL number ``dt · max(|u| + |v| + |w|) / dx`` of a physical field."""
        speed = u.abs().sum(dim=-4).max().item()
        return dt * speed / self.dx

    def cfl_dt(self, u: torch.Tensor, cfl: float) -> float:
        """The time step at which physical field ``u`` has CFL number ``cfl``."""
        speed = u.abs().sum(dim=-4).max().item()
        return math.inf if speed == 0 else cfl * self.dx / speed

    # ------------------------------------------------------------------ dynamics
    def _setup_forcing(self) -> None:
        f = self.forcing
        self._forced_index: torch.Tensor | None = None
        self._forcing_coeffs: torch.Tensor | None = None
        if f.kind == "linear":
            kmag = torch.sqrt(self.k2).reshape(-1)
            band = (kmag > 0) & (kmag <= f.wavenumber * spectral.TWO_PI / self.length + 1e-9)
            if f.wavenumber == 0:
                band = kmag > 0
            self._forced_index = torch.nonzero(band).reshape(-1)
            if self._forced_index.numel() == 0:
                raise ValueError(f"linear forcing band |k| <= {f.wavenumber} holds no mode")
            self._forced_weight = torch.broadcast_to(self.weight, self.spectral_shape).reshape(-1)[
                self._forced_index
            ]
        elif f.kind == "kolmogorov":
            if f.wavenumber > self.cutoff:
                raise ValueError(
                    f"Kolmogorov forcing wavenumber {f.wavenumber:g} is above the dealiasing "
                    f"cutoff {self.cutoff} of an n = {self.n} grid"
                )
            y = torch.arange(self.n, dtype=self.dtype) * self.dx
            field = torch.zeros((3, *self.shape), dtype=self.dtype)
            scale = spectral.TWO_PI / self.length
            field[0] = f.amplitude * torch.sin(f.wavenumber * scale * y).reshape(1, -1, 1)
            coeffs = self.to_spectral(field.to(self.device))
            flat = coeffs.reshape(3, -1)
            self._forced_index = torch.nonzero(flat.abs().amax(dim=0) > 1e-12 * f.amplitude)
            self._forced_index = self._forced_index.reshape(-1)
            self._forcing_coeffs = flat[:, self._forced_index]

    def _add_forcing(self, coeffs: torch.Tensor, out: torch.Tensor) -> None:
        if self._forced_index is None:
            return
        flat_out = out.view(3, -1)
        if self._forcing_coeffs is not None:  # Kolmogorov: a fixed field
            flat_out.index_add_(1, self._forced_index, self._forcing_coeffs)
            return
        modes = coeffs.reshape(3, -1).index_select(1, self._forced_index)
        forced_energy = 0.5 * ((modes.abs() ** 2).sum(dim=0) * self._forced_weight).sum()
        coefficient = self.forcing.power / (2 * forced_energy.clamp_min(1e-30))
        flat_out.index_add_(1, self._forced_index, modes * coefficient)

    def rhs(self, coeffs: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Explicit part of the tendency: ``P[u × ω]`` (dealiased) plus the forcing.

        Args:
            coeffs: Dealiased amplitudes ``(3, *spectral_shape)`` of a divergence-free field.
            out: Optional output buffer of the same shape.
        """
        if out is None:
            out = torch.empty_like(coeffs)
        stack = self._buffer("stack", (6, *self.spectral_shape), self.cdtype)
        ikx, iky, ikz = self.ik
        c0, c1, c2 = coeffs.unbind(0)
        stack[:3].copy_(coeffs)
        w0, w1, w2 = stack[3], stack[4], stack[5]
        torch.mul(iky, c2, out=w0).addcmul_(ikz, c1, value=-1)
        torch.mul(ikz, c0, out=w1).addcmul_(ikx, c2, value=-1)
        torch.mul(ikx, c1, out=w2).addcmul_(iky, c0, value=-1)
        phys = self._pruned_inverse(stack)
        u, w = phys[:3], phys[3:]
        cross = self._buffer("cross", (3, *self.shape), self.dtype)
        torch.mul(u[1], w[2], out=cross[0]).addcmul_(u[2], w[1], value=-1)
        torch.mul(u[2], w[0], out=cross[1]).addcmul_(u[0], w[2], value=-1)
        torch.mul(u[0], w[1], out=cross[2]).addcmul_(u[1], w[0], value=-1)
        # Forward: one rfftn and a gather (pruning the forward transform measured slower).
        self._gather(torch.fft.rfftn(cross, dim=(-3, -2, -1), norm="forward"), out)
        # Leray projection: out -= k (k·out) / |k|².
        kx, ky, kz = self.k
        o0, o1, o2 = out.unbind(0)
        kdot = stack[3]  # the vorticity is no longer needed: reuse its storage
        torch.mul(o0, kx, out=kdot).addcmul_(o1, ky).addcmul_(o2, kz).mul_(self.inv_k2)
        o0.addcmul_(kdot, kx, value=-1)
        o1.addcmul_(kdot, ky, value=-1)
        o2.addcmul_(kdot, kz, value=-1)
        self._add_forcing(coeffs, out)
        return out

    def _pruned_inverse(self, stack: torch.Tensor) -> torch.Tensor:
        """Inverse transform of dealiased amplitudes, skipping the lines that are all zero.

        One axis at a time: x on the kept (y, z) lines only, then y on the kept z planes,
        then the real transform along z. The zero padding lives in preallocated buffers.
        FFTs are called without ``out=``: torch would compute into a fresh tensor and copy.
        """
        kc, n = self.cutoff, self.n
        lead = tuple(stack.shape[:-3])
        px = self._buffer("x", (*lead, n, 2 * kc + 1, kc + 1), self.cdtype)
        py = self._buffer("y", (*lead, n, n, kc + 1), self.cdtype)
        pz = self._buffer("z", (*lead, n, n, n // 2 + 1), self.cdtype)
        px[..., : kc + 1, :, :] = stack[..., : kc + 1, :, :]
        px[..., n - kc :, :, :] = stack[..., kc + 1 :, :, :]
        a = torch.fft.ifft(px, dim=-3, norm="forward")
        py[..., : kc + 1, :] = a[..., : kc + 1, :]
        py[..., n - kc :, :] = a[..., kc + 1 :, :]
        pz[..., : kc + 1] = torch.fft.ifft(py, dim=-2, norm="forward")
        return torch.fft.irfft(pz, n=n, dim=-1, norm="forward")

    def _factors(self, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Integrating factors ``exp(−ν|k|²dt/2)`` and ``exp(−ν|k|²dt)``."""
        if self._factor_cache is None or self._factor_cache[0] != dt:
            half = torch.exp(-self.viscosity * self.k2 * (dt / 2))
            self._factor_cache = (dt, half, half * half)
        return self._factor_cache[1], self._factor_cache[2]

    def step(self, coeffs: torch.Tensor, dt: float) -> torch.Tensor:
        """One integrating-factor RK4 step of dealiased amplitudes; returns a new tensor.

        With ``E = exp(−ν|k|²dt/2)`` and ``N`` the explicit tendency (:meth:`rhs`)::

            k1 = N(û)            k2 = N(E(û + dt/2 k1))
            k3 = N(Eû + dt/2 k2) k4 = N(E²û + dt E k3)
            û ← E²û + dt/6 (E² k1 + 2E(k2 + k3) + k4)
        """
        half, _ = self._factors(dt)
        k, stage, half_u = (self._buffer(key, coeffs.shape, self.cdtype) for key in "ksh")
        acc = torch.empty_like(coeffs)
        self.rhs(coeffs, out=k)  # k1
        torch.add(coeffs, k, alpha=dt / 2, out=stage).mul_(half)
        torch.add(coeffs, k, alpha=dt / 6, out=acc).mul_(half)
        torch.mul(coeffs, half, out=half_u)
        self.rhs(stage, out=k)  # k2
        acc.add_(k, alpha=dt / 3)
        torch.add(half_u, k, alpha=dt / 2, out=stage)
        self.rhs(stage, out=k)  # k3
        acc.add_(k, alpha=dt / 3).mul_(half)
        torch.add(half_u, k, alpha=dt, out=stage).mul_(half)
        self.rhs(stage, out=k)  # k4
        acc.add_(k, alpha=dt / 6)
        return acc

    def iterate(
        self,
        u0: torch.Tensor,
        n_steps: int,
        dt: float,
        save_every: int,
        *,
        max_cfl: float | None = None,
        on_step: Callable[[int], None] | None = None,
        t0: float = 0.0,
    ) -> Iterator[tuple[float, torch.Tensor]]:
        """Advance ``u0`` by ``n_steps`` steps, yielding ``(t, u)`` every ``save_every`` steps.

        ``u0`` (physical, ``(3, n, n, n)``) is projected onto divergence-free dealiased fields;
        the initial state is not yielded. Raises :class:`BlowUpError` on a non-finite state
        (checked every step) or, when ``max_cfl`` is given, on a saved state whose CFL number
        exceeds it.

        Args:
            u0: Initial velocity in physical space.
            n_steps: Number of solver steps.
            dt: Time step.
            save_every: Steps between yielded states.
            max_cfl: Largest CFL number allowed at a yielded state (``None``: unchecked).
            on_step: Called with the step number after every step (progress bars).
            t0: Time of ``u0``; yielded times and error messages count from it.
        """
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        if save_every < 1:
            raise ValueError(f"save_every must be >= 1, got {save_every}")
        coeffs = self.project(self.to_spectral(u0))
        for step in range(1, n_steps + 1):
            coeffs = self.step(coeffs, dt)
            t = t0 + step * dt
            if not bool(torch.isfinite(coeffs.sum())):
                raise BlowUpError(
                    f"non-finite velocity at t = {t:.6g} (step {step}, dt = {dt:g})", t, step
                )
            if on_step is not None:
                on_step(step)
            if step % save_every == 0:
                u = self.to_physical(coeffs)
                if max_cfl is not None:
                    cfl = self.cfl(u, dt)
                    if cfl > max_cfl:
                        raise BlowUpError(
                            f"CFL number {cfl:.3g} exceeds max_cfl = {max_cfl:g} at t = {t:.6g} "
                            f"(step {step}, dt = {dt:g})",
                            t,
                            step,
                            cfl,
                            cfl * self.dx / dt,
                        )
                yield t, u

    def simulate(
        self,
        u0: torch.Tensor,
        t_end: float,
        dt: float,
        save_every: int = 1,
        *,
        max_cfl: float | None = None,
        on_step: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Integrate from ``u0`` to ``t_end`` and return the saved states.

        Args:
            u0: Initial velocity ``(3, n, n, n)`` in physical space; it is projected onto
                divergence-free fields and its modes beyond the 2/3 rule are dropped.
            t_end: Final time; must be a whole number of steps ``dt``.
            dt: Time step.
            save_every: Steps between saved states.
            max_cfl: Largest CFL number allowed at a saved state (``None``: unchecked).
            on_step: Called with the step number after every step.

        Returns:
            ``(T, 3, n, n, n)``: the (projected) initial state, then the state every
            ``save_every`` steps up to ``t_end``.
        """
        if tuple(u0.shape) != (3, *self.shape):
            raise ValueError(f"u0 must have shape {(3, *self.shape)}, got {tuple(u0.shape)}")
        n_steps = steps_for(t_end, dt)
        first = self.to_physical(self.project(self.to_spectral(u0)))
        frames = [first]
        for _, u in self.iterate(u0, n_steps, dt, save_every, max_cfl=max_cfl, on_step=on_step):
            frames.append(u)
        return torch.stack(frames)


def steps_for(t_end: float, dt: float) -> int:
    """Number of steps ``dt`` in ``t_end``; an error unless it is a whole number."""
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if t_end < 0:
        raise ValueError(f"t_end must be >= 0, got {t_end}")
    n_steps = round(t_end / dt)
    if abs(n_steps * dt - t_end) > 1e-9 * max(1.0, abs(t_end)):
        raise ValueError(f"t_end = {t_end:g} is not a whole number of steps dt = {dt:g}")
    return n_steps


DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}
