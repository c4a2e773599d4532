"""Scratch (NumPy) models built only from nnatlas.scratch layers; state_dict keys equal the zoo's."""
