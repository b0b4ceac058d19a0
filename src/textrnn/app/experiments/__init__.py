"""Experiments built from textrnn's own commands: the lecture's four claims and the pretraining
study. Each is a grid of training runs, cached in run folders, so an interrupted experiment picks up
where it stopped."""
