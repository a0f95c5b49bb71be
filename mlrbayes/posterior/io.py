"""Posterior DataTrees on disk: NetCDF written atomically, read fully into memory."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import xarray as xr

__all__ = ["load_posterior", "save_posterior"]


def save_posterior(idata, path: str | os.PathLike) -> Path:
    """Write a posterior DataTree to NetCDF atomically (temporary file, then rename).

    Parameters
    ----------
    idata : xarray.DataTree
    path : str or PathLike
        Target ``.nc`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".nc", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        idata.to_netcdf(tmp_path, engine=_netcdf_engine())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target


def load_posterior(path: str | os.PathLike):
    """Read a posterior written by :func:`save_posterior` (fully loaded into memory).

    Returns
    -------
    xarray.DataTree
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"posterior file {str(p)!r} does not exist.")
    with xr.open_datatree(p, engine=_netcdf_engine()) as dt:
        return dt.load()


def _netcdf_engine() -> str:
    for engine, module in (("h5netcdf", "h5netcdf"), ("netcdf4", "netCDF4")):
        if importlib.util.find_spec(module) is not None:
            return engine
    raise ImportError(
        "saving a posterior needs a NetCDF4 writer: pip install h5netcdf (or netCDF4)."
    )
