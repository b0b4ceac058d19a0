"""What textrnn does with models: the zoo, training runs and their folders, reports and plots,
explanations, serving, the experiments, pretraining and the recipe (with its linear head)."""
