"""Training: the trainer mixin (compile / fit / evaluate / predict), the direct step, optimizers,
losses, metrics, callbacks, checkpoints and distributed data parallelism."""
