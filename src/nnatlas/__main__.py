"""``python -m nnatlas``: the ``nnatlas`` command, also as torchrun starts it in each process
(``torchrun --nproc-per-node 2 -m nnatlas train lenet5 --data digits``)."""

from nnatlas.cli import main

if __name__ == "__main__":
    main()
