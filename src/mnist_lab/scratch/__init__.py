"""CS7643 A1's classifiers and APML ex3's toy convnet in plain NumPy, backprop written by hand.

Teaching code: no torch anywhere in this package (the tests compare it against torch).
`python -m mnist_lab.scratch` trains on MNIST; `python -m mnist_lab.scratch.toy` runs the toy.
"""
