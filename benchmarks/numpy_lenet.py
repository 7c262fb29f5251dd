"""A plain NumPy LeNet-5 training step (im2col convolutions), the baseline the benchmark compares
graphc against. It computes the same step as graphc's TrainOneStepCell: forward, softmax
cross-entropy (mean), backward, and Momentum (v = u*v + g; p -= lr*v)."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x, k):
    """[N,C,H,W] -> [N*OH*OW, C*k*k] for a k x k 'valid' window, stride 1."""
    n, c, h, w = x.shape
    windows = sliding_window_view(x, (k, k), axis=(2, 3))           # N,C,OH,OW,k,k
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * (h - k + 1) * (w - k + 1), c * k * k)


def col2im(cols, shape, k):
    """The adjoint of im2col: sums each window's gradient back into [N,C,H,W]."""
    n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(n, oh, ow, c, k, k)
    dx = np.zeros(shape, cols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + oh, j:j + ow] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx


def conv(x, w):
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    cols = im2col(x, k)
    y = cols @ w.reshape(o, -1).T
    return y.reshape(n, h - k + 1, wd - k + 1, o).transpose(0, 3, 1, 2), cols


def conv_backward(dy, cols, x_shape, w, need_dx):
    o, _, k, _ = w.shape
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (dy_mat.T @ cols).reshape(w.shape)
    dx = col2im(dy_mat @ w.reshape(o, -1), x_shape, k) if need_dx else None
    return dx, dw


def pool(x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = windows.max(axis=(3, 5))
    return y, windows


def pool_backward(dy, windows, y):
    # the gradient goes to the first maximum of each window, as graphc's max_pool2d_grad
    n, c, oh, _, ow, _ = windows.shape
    flat = windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, 4)
    first = flat.argmax(axis=-1)
    dflat = np.zeros_like(flat)
    np.put_along_axis(dflat, first[..., None], dy[..., None], axis=-1)
    return dflat.reshape(n, c, oh, ow, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * 2, ow * 2)


def train_step(params, moments, x, labels, lr=0.01, momentum=0.9):
    """One step; updates params and moments (dicts of arrays keyed like graphc's names) in place."""
    p = {k.split("backbone.")[1]: v for k, v in params.items()}
    c1, cols1 = conv(x, p["conv1.weight"])
    r1 = np.maximum(c1, 0)
    p1, win1 = pool(r1)
    c2, cols2 = conv(p1, p["conv2.weight"])
    r2 = np.maximum(c2, 0)
    p2, win2 = pool(r2)
    f = p2.reshape(len(x), -1)
    h1 = np.maximum(f @ p["fc1.weight"].T + p["fc1.bias"], 0)
    h2 = np.maximum(h1 @ p["fc2.weight"].T + p["fc2.bias"], 0)
    logits = h2 @ p["fc3.weight"].T + p["fc3.bias"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    softmax = e / e.sum(axis=1, keepdims=True)
    rows = np.arange(len(x))
    loss = float(np.mean(np.log(e.sum(axis=1)) - shifted[rows, labels]))

    d = softmax
    d[rows, labels] -= 1
    d /= len(x)
    grads = {"fc3.weight": d.T @ h2, "fc3.bias": d.sum(0)}
    d = (d @ p["fc3.weight"]) * (h2 > 0)
    grads.update({"fc2.weight": d.T @ h1, "fc2.bias": d.sum(0)})
    d = (d @ p["fc2.weight"]) * (h1 > 0)
    grads.update({"fc1.weight": d.T @ f, "fc1.bias": d.sum(0)})
    d = (d @ p["fc1.weight"]).reshape(p2.shape)
    d = pool_backward(d, win2, p2) * (r2 > 0)
    d, grads["conv2.weight"] = conv_backward(d, cols2, p1.shape, p["conv2.weight"], need_dx=True)
    d = pool_backward(d, win1, p1) * (r1 > 0)
    _, grads["conv1.weight"] = conv_backward(d, cols1, x.shape, p["conv1.weight"], need_dx=False)

    for name, param in params.items():
        v = moments[name]
        v *= momentum
        v += grads[name.split("backbone.")[1]]
        param -= lr * v
    return loss
