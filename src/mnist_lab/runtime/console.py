"""What a run prints: Lightning's lines that tell this lab's users nothing are left out.

Lightning announces on every run which accelerators exist (GPU, TPU, HPU), that the lab's own
model summary replaces its default one, that training stopped at `max_epochs`, that the
checkpoint it just announced was loaded, and tips for its cloud products; the lab's first line
already names the device. Warnings stay, and so does the
one useful device line: a GPU that is present but unused, said in the lab's terms.
"""

from __future__ import annotations

import logging
import re
import warnings

# Where Lightning's rank_zero_info lines are logged (PyTorch Lightning's and Fabric's).
RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)
NOISE = (
    "GPU available: ",
    "TPU available: ",
    "HPU available: ",
    "IPU available: ",
    "💡 Tip: ",
    "Trainer already configured with model summary callbacks",
    "`Trainer.fit` stopped: `max_epochs=",
    # each repeats the "Restoring states from the checkpoint path at ..." line just before it
    "Loaded model weights from the checkpoint at ",
    "Restored all states from the checkpoint at ",
    # the lab's environment line names the precision and why it was chosen
    "Using bfloat16 Automatic Mixed Precision",
    "Using 16bit Automatic Mixed Precision",
)
IDLE_GPU = re.compile(r"GPU available: True(?: \((?P<kind>\w+)\))?, used: False")


class LightningNoise(logging.Filter):
    """Drops the NOISE lines; an idle GPU becomes one line saying how to use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        idle = IDLE_GPU.match(message)
        if idle:
            kind = f" ({idle['kind']})" if idle["kind"] else ""
            record.msg = (
                f"a GPU{kind} is present but this run uses the CPU; trainer.accelerator=gpu "
                f"(or auto) trains on it"
            )
            record.args = ()
            return True
        return record.levelno > logging.INFO or not message.startswith(NOISE)


def quiet_lightning() -> None:
    """Filter Lightning's console noise in this process (calling it again changes nothing)."""
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LightningNoise) for f in logger.filters):
            logger.addFilter(LightningNoise())
    # "LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]" on every GPU run
    logging.getLogger("lightning.pytorch.accelerators.cuda").setLevel(logging.WARNING)
    # Said above in the lab's words; Lightning's own says `Trainer(accelerator='gpu')`.
    warnings.filterwarnings("ignore", message="GPU available but not used")
    # Mixed precision keeps the weights in fp32, so the summary's 32-bit size is the right one.
    warnings.filterwarnings("ignore", message=r"Precision .*-mixed is not supported by the model")
