"""The run's checkpoints: the tree of a trainer, writing it, reading it back, the best model, autosave.

A mixin of :class:`~pinnlite.training.trainer.Trainer` (which it never
imports: ``cls`` is the trainer class), kept apart so that the trainer is the
loop and this module the files. The tree itself is :mod:`pinnlite.training.state`;
the save policy (wall time, epochs, failed saves) :mod:`pinnlite.training.autosave`.
"""

import errno
import logging
import os
import warnings

from pinnlite.errors import InputError, describe
from pinnlite.io import checkpoint
from pinnlite.io.errors import naming
from pinnlite.training.autosave import newest_good
from pinnlite.training.config import ConfigError
from pinnlite.training.model import ElasticPINN2D
from pinnlite.training.state import from_tree, to_tree

log = logging.getLogger("pinnlite")


class Checkpoints:
    """Checkpoint methods of the trainer; they use its ``state``, ``config``, ``objective``, ``opt``,
    ``model``, ``scales``, ``metrics``, ``data``, ``rank`` and ``world_size``."""

    def _newest_good(self):
        """The newest complete checkpoint (:func:`pinnlite.training.autosave.newest_good`); None if none."""
        return newest_good(self.config.checkpoint.directory if self.rank == 0 else None, self.last_checkpoint)

    def to_tree(self):
        """The checkpoint tree of the run so far (:func:`pinnlite.training.state.to_tree`)."""
        if self.state is None:
            raise checkpoint.StructureError("trainer: nothing to save before training has started")
        return to_tree(
            self.state, config=self.config, arch=self.model.arch, material=self.objective, optimizer=self.opt,
            scales=self.scales, metrics=self.metrics, data=self.data, world_size=self.world_size,
        )

    @classmethod
    def from_tree(cls, tree, progress=None, comm=None):
        """A trainer ready to continue the run of a ``"training"`` checkpoint tree.

        The trainer takes the tree's optimizer-state arrays as they are (a tree just read is
        nobody else's; no optimizer writes into them): change them afterwards and it sees it."""
        r = from_tree(tree)
        try:
            a = r.architecture
            model = ElasticPINN2D(a["hidden"], a["activation"], a["bounds"], a["output_scale"], a["dtype"], params=r.params,
                                  pressure=a.get("pressure", False))
            trainer = cls(model, r.config, progress=progress, comm=comm)
        except InputError as e:  # a stored config that contradicts the stored network, non-finite weights
            raise checkpoint.StructureError(f"checkpoint: training state does not load ({type(e).__name__}: {e})") from None
        trainer.state, trainer.data, trainer.scales, trainer.metrics = r.state, r.data, r.scales, r.metrics
        trainer.field_arch = None if r.field is None else r.field[0]
        trainer._attach(r.data)
        trainer.opt = trainer._optimizer(r.state.phase)
        trainer._saved_world_size = r.world_size
        return trainer

    def save_checkpoint(self, epoch=None, directory=None):
        """Write the full training state to ``directory`` (default ``config.checkpoint.directory``).

        The file is ``ckpt-<epoch>.pinnlite``; ``latest`` is pointed at it and
        only the newest ``config.checkpoint.keep_last`` are kept. ``epoch``
        defaults to the completed epochs (the name only; the state saved is
        always the current one). Returns the path.
        """
        if isinstance(epoch, (str, bytes, os.PathLike)):  # the first argument is the epoch, not the directory
            raise InputError(f"epoch: expected an integer, found {describe(epoch)} (a directory? pass it as "
                             "save_checkpoint(directory=...))")
        if epoch is not None:
            checkpoint.check_epoch(epoch)  # before anything is encoded
        directory = directory or self.config.checkpoint.directory
        if directory is None:
            raise ConfigError("checkpoint.directory: expected a directory to save into, found None")
        tree = self.to_tree()
        if self.rank != 0:  # under MPI rank 0 writes for everyone
            self._saved_epoch = self.state.epoch, self.state.step
            return None
        epoch = self.state.epoch if epoch is None else epoch
        path = checkpoint.save_in_directory(directory, epoch, tree, self.config.checkpoint.keep_last)
        self._saved_epoch = self.state.epoch, self.state.step
        self.last_checkpoint = path
        if self._saver is not None:
            self._saver.succeeded(path)
        log.info("checkpoint %s", path)
        return path

    @classmethod
    def load_checkpoint(cls, directory=None, epoch=None, path=None, progress=None, comm=None):
        """A trainer ready to continue from a checkpoint.

        ``path`` names a file; otherwise ``epoch`` selects ``ckpt-<epoch>`` in
        ``directory``, and None the newest good one (:func:`pinnlite.io.checkpoint.read_latest`,
        which warns when it passes over a damaged file), after which the
        checkpoints beyond the run's ``checkpoint.keep_last`` are deleted, as
        its next save would (:func:`pinnlite.io.checkpoint.prune`). Call :meth:`train` (with no
        data: the checkpoint holds them) to continue exactly where it stopped.
        A run that saved checkpoints keeps saving them where the loaded file
        is (``directory``, or the directory of ``path``), whatever directory
        its stored config names. Under MPI (``comm``) every rank loads the same
        file; with another number of ranks than the run was saved with, the
        points are re-sharded and the continuation is no longer bit-exact (a
        warning says so).
        """
        scanned = path is None and epoch is None
        if path is None and directory is None:
            raise InputError("load_checkpoint: expected a directory or a path, found neither")
        if directory is not None and path is None and not os.path.isdir(directory):
            if os.path.isfile(directory):
                raise InputError(f"directory: expected a checkpoint directory, found the file {os.fspath(directory)!r} "
                                 "(a checkpoint file: load_checkpoint(path=...))")
            raise checkpoint.MissingFileError(errno.ENOENT, "no such checkpoint directory", os.fspath(directory))
        if scanned:  # the newest good one, read once
            path, tree = checkpoint.read_latest(directory)
        else:
            path = path if path is not None else checkpoint.checkpoint_path(directory, epoch)
            with naming(path):
                tree = checkpoint.read(path)
        with naming(path):  # a model file, a tree that does not load: which file
            trainer = cls.from_tree(tree, progress=progress, comm=comm)
        if scanned and trainer.rank == 0:  # the retention of the run, as its next save would apply it
            checkpoint.prune(directory, trainer.config.checkpoint.keep_last, keep=path)
        if trainer._saved_world_size != trainer.world_size:
            msg = (f"{path} was written by a run on {trainer._saved_world_size} MPI rank(s) and resumes on "
                   f"{trainer.world_size}: the points are re-sharded and the continuation is no longer bit-exact")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        if trainer.config.checkpoint.directory is not None:
            # keep saving where the run was found: the stored path may be relative, the
            # directory moved, or another run's (a config copied from it)
            here = os.fspath(directory) if directory is not None else (os.path.dirname(os.fspath(path)) or os.curdir)
            if trainer.config.checkpoint.directory != here:
                trainer.config = trainer.config.replace(**{"checkpoint.directory": here})
        trainer.last_checkpoint = os.fspath(path)
        log.info("resumed %s at epoch %d", path, trainer.state.epoch)
        return trainer

    def _on_best(self):
        if self.config.checkpoint.directory and self.config.checkpoint.keep_best:
            self._best = (self.state.epoch, self.state.x.copy(), self.material)

    def _save_best(self):
        best = self._best
        if best is None or self._best_saved == best[0] or self.rank != 0:
            return
        epoch, x, mat = best
        model = ElasticPINN2D.from_arch(self.model.arch, self.objective.params(x).copy())
        model.save(os.path.join(self.config.checkpoint.directory, checkpoint.BEST), material=mat, extra={"epoch": epoch})
        self._best_saved = epoch

    def _on_epoch_end(self):
        if self.config.checkpoint.directory and self._saver.due(self.state.epoch):
            self._autosave()

    def _on_end(self):
        if self.config.checkpoint.directory:
            with self._signals:  # a signal during the final save stops it at once
                self._autosave(final=True)

    def _autosave(self, final=False):
        """Save the checkpoint (unless this state is saved) and the best model, through the save policy.

        A failed save (:class:`OSError`: a full disk, a read-only directory) warns
        and training goes on; too many in a row, or a failed ``final`` save,
        raise :class:`~pinnlite.training.autosave.SaveError` (:mod:`pinnlite.training.autosave`).
        """
        directory = self.config.checkpoint.directory
        target = checkpoint.checkpoint_path(directory, self.state.epoch)
        try:
            if self._saved_epoch != (self.state.epoch, self.state.step):
                self.save_checkpoint()
            target = os.path.join(directory, checkpoint.BEST)
            self._save_best()
        except OSError as e:
            self._saver.failed(target, e, final=final)
