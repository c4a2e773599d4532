"""The lab's routes by area: the queue and its live events (:mod:`.jobs`), the playground,
zoo trainings and the run browser (:mod:`.runs`), the CNN and sequence explorers."""
