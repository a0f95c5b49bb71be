"""Posterior DataTrees on disk: NetCDF written atomically, read fully into memory."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import xarray as xr

from .._io import atomic_path

__all__ = ["load_posterior", "save_posterior"]


def save_posterior(idata, path: str | os.PathLike) -> Path:
    """Write a posterior DataTree to NetCDF atomically (temporary file, then rename); the file
    gets the ordinary mode (the umask applies, as for any new file).

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
    with atomic_path(target, suffix=".nc") as tmp_path:
        idata.to_netcdf(tmp_path, engine=_netcdf_engine())
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
