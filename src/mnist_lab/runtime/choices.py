"""The names a config may use for activations, initialisations and optimizers.

Kept free of torch so that configs are checked before anything heavy is imported;
`nets.layers` and `models.classifier` map each name to its torch class.
"""

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "prelu")
INITS = ("default", "zeros", "normal", "xavier", "he")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "cosine", "onecycle", "step")
DATA_ORDERS = ("shuffled", "by_label", "fixed")
VAL_SPLITS = ("random", "last")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "tpu", "auto")
# TensorFlow Playground's datasets, then the Boolean gates on {0, 1}^2 (`data=toy2d`)
TOY_DATASETS = ("xor", "circle", "spiral", "gauss", "gate_and", "gate_or", "gate_xor")
