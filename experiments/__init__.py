"""The lab's named studies: each is a Hydra preset in ``conf/experiment/`` plus the question
its report answers. ``python -m experiments.run NAME`` launches one and writes its report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Study:
    name: str
    preset: str
    question: str


STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        Study(
            "stall",
            "stall",
            "Does Adagrad stop learning, and at which step? How does RMSprop's decay rate "
            "change the answer?",
        ),
        Study("stall_demo", "stall_demo", "The headline study, sized down for `make demo`."),
        Study(
            "shift_demo",
            "shift_demo",
            "The shift study, sized down for `make demo`: does RMSprop recover faster?",
        ),
        Study(
            "decay_sensitivity",
            "decay_sensitivity",
            'Is "a decay rate of 0.9 or 0.99 usually works" true here?',
        ),
        Study(
            "shift",
            "shift",
            "When the task changes mid-training, how many steps until each optimizer is back "
            "near its unshifted control's loss?",
        ),
        Study(
            "paths_2d",
            "paths_2d",
            "How does each optimizer move over the textbook function and Rosenbrock?",
        ),
    )
}
