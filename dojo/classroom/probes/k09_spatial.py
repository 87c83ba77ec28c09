"""Probes for kata 09 (Convolutions and pooling): im2col/col2im, Conv2d forward and backward,
max and average pooling (forward and backward, non-square windows) and Flatten."""

from dojo.classroom.probes import probe


def _x(rng, shape, grad=True):
    from tinytorch.tensor import Tensor

    return Tensor(rng.normal(size=shape), requires_grad=grad)


@probe("im2col")
def im2col_columns(rng):
    from tinytorch.spatial import conv_output_size, im2col

    x = rng.normal(size=(2, 3, 5, 6))
    return {"cols": im2col(x, (3, 2), stride=(2, 1), padding=1), "size": conv_output_size(7, 3, 2, 1)}


@probe("conv_forward")
def conv_forward(rng):
    from tinytorch.spatial import Conv2d, conv2d

    x, w, b = _x(rng, (2, 3, 6, 5), False), _x(rng, (4, 3, 3, 2), False), _x(rng, (4,), False)
    layer = Conv2d(3, 2, kernel_size=(2, 3), stride=2, padding=1)
    layer.weight.data[...] = rng.normal(size=layer.weight.shape)
    layer.bias.data[...] = rng.normal(size=layer.bias.shape)
    return {"f": conv2d(x, w, b, stride=(1, 2), padding=(1, 0)), "layer": layer(_x(rng, (1, 3, 7, 7), False)),
            "weight.shape": list(layer.weight.shape)}


@probe("conv_forward")
def conv_channel_mismatch(rng):
    from tinytorch.spatial import conv2d

    return conv2d(_x(rng, (1, 3, 4, 4), False), _x(rng, (2, int(rng.integers(4, 6)), 3, 3), False))


@probe("conv_backward")
def conv_backward(rng):
    from tinytorch.spatial import col2im, conv2d

    x, w, b = _x(rng, (2, 2, 5, 6)), _x(rng, (3, 2, 3, 2)), _x(rng, (3,))
    out = conv2d(x, w, b, stride=(2, 1), padding=1)
    out.backward(rng.normal(size=out.shape))
    cols = rng.normal(size=(1, 2 * 2 * 2, 4 * 4))
    return {"dx": x.grad, "dw": w.grad, "db": b.grad, "col2im": col2im(cols, (1, 2, 5, 5), (2, 2), stride=1, padding=0)}


@probe("max_pool")
def max_pool(rng):
    from tinytorch.spatial import MaxPool2d, max_pool2d

    x = _x(rng, (2, 2, 7, 6))
    out = max_pool2d(x, kernel_size=(3, 2), stride=(2, 2))
    out.backward(rng.normal(size=out.shape))
    return {"out": out, "dx": x.grad, "layer": MaxPool2d(2)(x)}


@probe("avg_pool")
def avg_pool(rng):
    from tinytorch.spatial import AvgPool2d, avg_pool2d

    x = _x(rng, (2, 3, 6, 7))
    out = avg_pool2d(x, kernel_size=(2, 3), stride=(2, 1))
    out.backward(rng.normal(size=out.shape))
    return {"out": out, "dx": x.grad, "layer": AvgPool2d(3)(x)}


@probe("flatten")
def flatten(rng):
    from tinytorch.spatial import Flatten

    x = _x(rng, (2, 3, 4, 5))
    out = Flatten()(x)
    out.backward(rng.normal(size=out.shape))
    return {"out": out, "dx": x.grad, "middle": Flatten(1, 2)(x).shape, "negative": Flatten(-3, -2)(x).shape}
