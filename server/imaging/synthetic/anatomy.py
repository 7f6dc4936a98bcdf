"""The anatomy: a chest/abdomen CT phantom in HU and an MR head phantom of tissue labels."""

from __future__ import annotations

import numpy as np

from server.imaging.synthetic.phantom import _Grid, _Phantom, _Shape

_CT_FOV_MM = 360.0
_CT_COVERAGE_MM = 300.0  # soft-tissue series, z from +150 down to -150
_LUNG_CENTRE_MM = 95.0


def _ct_shapes(seed: int) -> list[_Shape]:
    """Chest/abdomen anatomy in HU (LPS mm: +x patient left, +y posterior, +z head)."""
    rng = np.random.default_rng([seed, 11])
    s: list[_Shape] = [
        _Shape(0, 139, 200, 4, 120),  # table top
        _Shape(0, 0, 167, 117, 20, z_range=(-200, 200)),  # skin
        _Shape(0, 0, 164, 114, -100, z_range=(-200, 200)),  # subcutaneous fat
        _Shape(0, 0, 150, 101, 45, z_range=(-200, 200)),  # muscle wall
        _Shape(0, 2, 138, 89, -80, z_range=(-200, 200)),  # visceral fat
    ]
    # ribs: short elliptic segments on the chest wall, in bands along z
    for k in range(14):
        ang = np.pi * (0.08 + 0.84 * k / 13) + np.pi
        rx, ry = 143 * np.cos(ang), 94 * np.sin(ang)
        for band in range(6):
            zc = 20 + band * 28
            s.append(_Shape(rx, ry, 6, 5, 900, z=zc + 4 * np.sin(k), c=5))
            s.append(_Shape(rx, -ry + 10, 6, 5, 900, z=zc + 14, c=5))
    s += [
        _Shape(-68, 0, 58, 75, -860, z=100, c=95),  # right lung
        _Shape(72, 0, 52, 75, -860, z=100, c=95),  # left lung
        _Shape(15, -25, 58, 48, 40, z=55, c=48),  # heart
        _Shape(15, -25, 40, 32, 120, z=55, c=35),  # enhancing ventricles
        _Shape(-70, 5, 88, 78, 60, z=-40, c=80),  # liver
        _Shape(-88, 12, 10, 10, 15, z=-35, c=10),  # hypodense liver lesion
        _Shape(88, 35, 30, 42, 48, z=-40, c=40),  # spleen
        _Shape(45, -35, 36, 28, -1000, z=-15, c=28),  # stomach gas
        _Shape(-62, 48, 24, 30, 150, z=-110, c=45),  # right kidney (enhancing)
        _Shape(62, 48, 24, 30, 150, z=-105, c=45),  # left kidney
        _Shape(14, 38, 13, 13, 180, z_range=(-200, 125)),  # descending aorta
        _Shape(-12, 30, 11, 11, 100, z_range=(-200, 40)),  # IVC
        _Shape(58, -22, 5, 5, 30, z=120, c=5),  # lung nodule
    ]
    # pulmonary vessels: short cylinders inside the lungs
    for _ in range(70):
        side = rng.choice([-1, 1])
        x = side * rng.uniform(30, 105)
        y = rng.uniform(-55, 55)
        zc = rng.uniform(30, 170)
        r = rng.uniform(1.2, 3.5)
        s.append(_Shape(x, y, r, r, 40, z_range=(zc - 30, zc + 30)))
    # spine: vertebral bodies with cortex, discs every 32 mm, canal, spinous process
    for level in range(-7, 8):
        z0 = level * 32.0
        s.append(_Shape(0, 66, 20, 17, 1150, z_range=(z0 - 13, z0 + 13)))
        s.append(_Shape(0, 66, 17, 14, 650, z_range=(z0 - 12, z0 + 12)))
        s.append(_Shape(0, 66, 19, 16, 80, z_range=(z0 + 13, z0 + 19)))
        s.append(_Shape(0, 100, 5, 13, 1000, z_range=(z0 - 10, z0 + 10)))
    s.append(_Shape(0, 88, 8, 7, 15, z_range=(-250, 250)))  # spinal canal
    return s


def ct_hu_slice(
    z_mm: float, *, rows: int = 512, cols: int = 512, seed: int = 0, fov_mm: float = _CT_FOV_MM
) -> np.ndarray:
    """The noiseless CT phantom's axial cross-section at ``z_mm``, in HU (float32)."""
    grid = _Grid(rows, cols, (fov_mm / rows, fov_mm / cols))
    return _Phantom(grid, _ct_shapes(seed), -1000.0).slice(z_mm)


def _mr_shapes() -> list[_Shape]:
    """Head anatomy as tissue labels (values index :data:`_MR_TISSUES`)."""
    return [
        _Shape(0, 0, 92, 112, 1, z=0, c=95),  # scalp/fat
        _Shape(0, 0, 86, 106, 2, z=-2, c=88),  # skull
        _Shape(0, 0, 80, 100, 3, z=-4, c=82),  # CSF rim
        _Shape(0, 0, 77, 97, 4, z=-4, c=79),  # grey matter
        _Shape(0, 0, 64, 84, 5, z=-4, c=66),  # white matter
        _Shape(-12, -10, 6, 28, 3, z=8, c=20),  # right lateral ventricle
        _Shape(12, -10, 6, 28, 3, z=8, c=20),  # left lateral ventricle
        _Shape(0, 15, 2, 6, 3, z=-10, c=10),  # third ventricle
        _Shape(30, 20, 7, 7, 6, z=20, c=7),  # white-matter lesion
        _Shape(-35, -40, 4, 5, 6, z=30, c=4),  # small lesion
    ]


#: MR tissue label → (T1, T2, FLAIR) signal.
_MR_TISSUES: dict[int, tuple[float, float, float]] = {
    0: (0, 0, 0),  # air
    1: (1400, 900, 700),  # scalp fat
    2: (60, 40, 40),  # skull
    3: (250, 1900, 120),  # CSF
    4: (650, 900, 850),  # grey matter
    5: (900, 600, 650),  # white matter
    6: (520, 1500, 1500),  # lesion
}
