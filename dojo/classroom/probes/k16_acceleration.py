"""Probes for kata 16 (Acceleration): the loop-free matmul and convolution (and ``speedup`` on a
fake clock: no real timing is probed), the kernel registry and dispatcher (a probe-only backend,
removed afterwards), the fused GELU/softmax/LayerNorm/attention/Linear/split- and merge-heads
kernels (also untracked under no_grad) and the fast convolution and pooling (outputs and gradients
under the fast backend, plus whether they equal the reference backend in the same process), the
counters, the BLAS thread control, and the fused KV-cached block (kata 14's cached generation
under the fast backend, and the cases it declines).

Each probe leaves the process as it found it: the reference backend selected, no dispatcher
installed, the registry and the thread count restored."""

import contextlib

import numpy as np

from dojo.classroom.probes import error_name, probe


@contextlib.contextmanager
def _restored():
    """Put the backend, the registry and the counters back however the probe ends."""
    from tinytorch import acceleration, tensor

    saved = dict(acceleration.KERNELS)
    try:
        yield acceleration
    finally:
        tensor.set_dispatcher(None)
        acceleration.KERNELS.clear()
        acceleration.KERNELS.update(saved)
        try:
            acceleration.set_backend("reference")
            acceleration.reset_counters()
        except Exception:  # noqa: BLE001 - a stubbed step: the probe has already failed
            pass


def _close(a, b, rtol, atol):
    return bool(a is not None and b is not None and np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=rtol, atol=atol))


def _run(name, f, arrays, upstream, grad_of=None):
    """f(*tensors) under backend ``name``: outputs and the gradients of the inputs in ``grad_of`` (all by default)."""
    from tinytorch.acceleration import backend
    from tinytorch.tensor import Tensor

    grad_of = range(len(arrays)) if grad_of is None else grad_of
    tensors = [None if a is None else Tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    with backend(name):
        out = f(*tensors)
        outs = out if isinstance(out, tuple) else (out,)
        outs[0].backward(upstream.astype(outs[0].dtype))
    return [o.data for o in outs], [tensors[i].grad for i in grad_of]


def _fast_and_same(f, arrays, upstream, rtol, atol, grad_of=None):
    """The fast backend's outputs and gradients, and whether they equal the reference backend's (same process)."""
    ref_out, ref_grads = _run("reference", f, arrays, upstream, grad_of)
    out, grads = _run("fast", f, arrays, upstream, grad_of)
    same = all(_close(o, r, rtol, atol) for o, r in zip(out, ref_out)) and all(_close(g, r, rtol, atol) for g, r in zip(grads, ref_grads))
    return {"out": out, "grads": grads, "dtypes": [str(o.dtype) for o in out] + [str(g.dtype) for g in grads], "same_as_reference": same}


@probe("loops")
def loop_free_matmul_and_conv(rng):
    from tinytorch.acceleration import conv2d_vectorized, matmul_broadcast, speedup

    m, k, n = (int(v) for v in rng.integers(1, 6, size=3))
    a, b = rng.uniform(-3, 3, (m, k)), rng.uniform(-3, 3, (k, n))
    stride, padding, ksize = int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 4))
    x = rng.uniform(-3, 3, (int(rng.integers(1, 3)), 2, int(rng.integers(3, 7)), int(rng.integers(3, 7)))).astype(np.float32)
    w = rng.uniform(-1, 1, (3, 2, ksize, ksize)).astype(np.float32)
    conv = conv2d_vectorized(x, w, stride=stride, padding=padding)
    now, calls = [0.0], []
    slow_costs = iter([float(v) for v in rng.integers(5, 20, size=4)])
    fast_costs = iter([float(v) for v in rng.integers(1, 5, size=4)])

    def slow(arg):
        calls.append("slow")
        now[0] += next(slow_costs)

    def fast(arg):
        calls.append("fast")
        now[0] += next(fast_costs)

    ratio = speedup(slow, fast, (0,), repeats=4, clock=lambda: now[0])
    return {"matmul": matmul_broadcast(a, b), "conv": conv, "conv_dtype": str(conv.dtype), "speedup": ratio, "order": calls}


@probe("dispatch")
def registry_and_dispatcher(rng):
    from tinytorch.tensor import Tensor
    from tinytorch.transformer import layer_norm

    with _restored() as acc:
        import tinytorch
        from tinytorch import tensor

        ran = []
        fill = float(rng.integers(2, 9))

        @acc.register_kernel("mul", "probe")
        def mul(x, y):
            ran.append("mul")
            return x.data * y.data

        @acc.register_kernel("sum", "probe")
        def total(x, axis=None, keepdims=False):
            ran.append("sum")
            return NotImplemented if axis is not None else np.sum(x.data)

        @acc.register_kernel("layer_norm", "probe")
        def ln(x, weight, bias, eps=1e-5):
            ran.append("layer_norm")
            return Tensor(np.full(x.shape, fill, dtype=x.data.dtype))

        first = acc.get_backend()
        listed = "probe" in acc.available_backends()
        x = Tensor(rng.normal(size=(2, 3)))
        y = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
        acc.reset_counters()
        quiet = [acc.counters()]
        x * x
        quiet.append(acc.counters())
        previous = acc.set_backend("probe")
        installed = tensor.set_dispatcher(None)
        tensor.set_dispatcher(installed)
        product = x * y
        node_op = product.node.op if product.node is not None else None
        results = {"add": x + x, "sum": x.sum(), "sum_axis": x.sum(axis=0), "layer_norm": layer_norm(x, Tensor(np.ones(3)), Tensor(np.zeros(3)))}
        counted = sorted(f"{op}/{name}/{calls}" for (op, name), calls in acc.counters().items())
        back = acc.set_backend("reference")
        product.backward(np.ones((2, 3)))  # kata 05's "mul" rule on the kernel's array
        x * y
        after = {"ran": list(ran), "dispatcher_removed": tensor.set_dispatcher(None) is None}
        acc.reset_counters()
        errors = []
        try:
            with acc.backend("probe"):
                nested = [acc.get_backend()]
                with acc.backend("reference"):
                    nested.append(acc.get_backend())
                nested.append(acc.get_backend())
                raise KeyError("inside the block")
        except KeyError:
            errors.append("KeyError")
        nested.append(acc.get_backend())
        tinytorch.backend("probe")
        setter = tinytorch.get_backend()
        tinytorch.set_backend("reference")
        try:
            acc.set_backend("no-such-backend")
            errors.append("")
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001
            errors.append(error_name(error))
        return {"first": first, "listed": listed, "quiet": [len(c) for c in quiet], "previous": previous,
                "installed": installed is not None, "product": product, "node_op": node_op, "grad": y.grad, "results": results,
                "counted": counted, "back": back, "after": after, "nested": nested, "setter": setter, "errors": errors,
                "final": acc.get_backend()}


def _values(rng, shape, scale=3.0, dtype=np.float32):
    return rng.uniform(-scale, scale, shape).astype(dtype)


@probe("fused")
def fused_kernels(rng):
    from tinytorch.activations import gelu, softmax
    from tinytorch.attention import causal_mask, padding_mask, scaled_dot_product_attention
    from tinytorch.transformer import layer_norm

    with _restored() as acc:
        shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        axis = int(rng.integers(-len(shape), len(shape)))
        d = int(rng.integers(2, 7))
        lead = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        B, H, T, hd = 2, int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
        masks = {"none": None, "causal": causal_mask(T), "padding": padding_mask([0, T], T)[:, None]}
        out = {}
        acc.reset_counters()
        for dtype, rtol, atol in ((np.float64, 1e-7, 1e-9), (np.float32, 1e-3, 1e-4)):  # 10× the tests' float32 tolerance
            tag = np.dtype(dtype).name
            x = _values(rng, shape, dtype=dtype)
            edges = np.array([0.0, 1000.0, -1000.0, 30.0, -30.0, 0.5], dtype=dtype)
            ln = [_values(rng, (*lead, d), dtype=dtype) + np.linspace(-1, 1, d, dtype=dtype), _values(rng, d, 2.0, dtype), _values(rng, d, 1.0, dtype)]
            qkv = [_values(rng, (B, H, T, hd), 1.5, dtype) for _ in range(3)]
            out[tag] = {
                "gelu": _fast_and_same(gelu, [x], rng.normal(size=shape), rtol, atol),
                "gelu_edges": _fast_and_same(gelu, [edges], np.ones(6), rtol, atol),
                "softmax": _fast_and_same(lambda t: softmax(t, axis=axis), [x], rng.normal(size=shape), rtol, atol),
                "softmax_huge": _fast_and_same(lambda t: softmax(t, axis=-1), [np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]], dtype)],
                                               rng.normal(size=(2, 3)), rtol, atol),
                "layer_norm": _fast_and_same(layer_norm, ln, rng.normal(size=(*lead, d)), rtol, atol),
                "constant_row": _fast_and_same(layer_norm, [np.array([[7.0, 7.0, 7.0], [1.0, 2.0, 4.0]], dtype), np.ones(3, dtype),
                                                            np.array([0.5, -1.0, 2.0], dtype)], rng.normal(size=(2, 3)), rtol, 1e-4),
                "attention": {name: _fast_and_same(lambda q, k, v, m=m: scaled_dot_product_attention(q, k, v, mask=m, return_weights=True),
                                                   qkv, rng.normal(size=(B, H, T, hd)), rtol, atol) for name, m in masks.items()},
            }
        ran = acc.counters()
        out["fast_calls"] = [ran.get((op, "fast"), 0) for op in ("gelu", "softmax", "layer_norm", "scaled_dot_product_attention")]
        return out


@probe("fused")
def a_gpt_under_the_fast_backend(rng):
    from tinytorch.transformer import GPT

    with _restored() as acc:
        n_layer = int(rng.integers(1, 3))
        model = GPT(vocab_size=9, block_size=6, n_layer=n_layer, n_head=2, n_embd=8)
        for _, p in sorted(model.named_parameters(), key=lambda item: item[0]):
            p.data[...] = rng.normal(scale=0.3, size=p.shape).astype(p.data.dtype)
        data = rng.integers(0, 9, (2, 7))
        x, y = data[:, :-1], data[:, 1:]

        def step():
            for p in model.parameters():
                p.grad = None
            logits, loss = model(x, targets=y)
            loss.backward()
            return logits.data.copy(), loss.item(), [p.grad.copy() for _, p in sorted(model.named_parameters(), key=lambda i: i[0])]

        logits, loss, grads = step()
        acc.reset_counters()
        with acc.backend("fast"):
            fast_logits, fast_loss, fast_grads = step()
        ran = acc.counters()
        same = (_close(fast_logits, logits, 1e-3, 1e-4) and abs(fast_loss - loss) <= 1e-4 * max(1.0, abs(loss))
                and all(_close(g, w, 1e-3, 1e-4) for g, w in zip(fast_grads, grads)))
        return {"logits": fast_logits, "loss": fast_loss, "grads": fast_grads, "same_as_reference": bool(same),
                "fast_calls": [ran.get((op, "fast"), 0) for op in ("gelu", "layer_norm", "scaled_dot_product_attention")]}


@probe("fused")
def fused_linear_and_inference(rng):
    from tinytorch.activations import gelu
    from tinytorch.attention import scaled_dot_product_attention
    from tinytorch.autograd import no_grad
    from tinytorch.layers import Linear
    from tinytorch.tensor import Tensor
    from tinytorch.transformer import layer_norm

    def linear(x, weight, bias=None):
        layer = Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        layer.weight, layer.bias = weight, bias
        return layer(x)

    with _restored() as acc:
        lead = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        n_in, n_out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        out = {}
        acc.reset_counters()
        for dtype, rtol, atol in ((np.float64, 1e-7, 1e-9), (np.float32, 1e-4, 1e-4)):
            arrays = [_values(rng, (*lead, n_in), dtype=dtype), _values(rng, (n_out, n_in), 1.0, dtype), _values(rng, n_out, 1.0, dtype)]
            up = rng.normal(size=(*lead, n_out))
            out[np.dtype(dtype).name] = {"bias": _fast_and_same(linear, arrays, up, rtol, atol),
                                         "no_bias": _fast_and_same(linear, arrays[:2], up, rtol, atol)}
        x = _values(rng, (1, 2, 8))
        w, b = _values(rng, 8, 2.0), _values(rng, 8, 1.0)
        q, k = _values(rng, (1, 2, 1, 4), 1.5), _values(rng, (1, 2, 5, 4), 1.5)
        W = _values(rng, (3, 8), 1.0)
        calls = {"gelu": lambda: gelu(Tensor(x)), "layer_norm": lambda: layer_norm(Tensor(x), Tensor(w), Tensor(b)),
                 "attention": lambda: scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(k)),
                 "linear": lambda: linear(Tensor(x), Tensor(W), Tensor(w[:3]))}
        inference = {}
        for name, f in calls.items():
            with acc.backend("fast"), no_grad():
                got = f()
            inference[name] = {"out": got.data, "recorded": got.node is not None or got.requires_grad,
                               "same_as_reference": _close(got.data, f().data, 1e-4, 1e-5)}
        out["inference"] = inference
        from tinytorch.attention import MultiHeadAttention

        B, T, H, D = (int(v) for v in rng.integers(1, 4, size=4))
        attn = MultiHeadAttention(H * D, H)
        out["split_heads"] = _fast_and_same(attn.split_heads, [_values(rng, (B, T, H * D))], rng.normal(size=(B, H, T, D)), 0, 0)
        out["merge_heads"] = _fast_and_same(attn.merge_heads, [_values(rng, (B, H, T, D))], rng.normal(size=(B, T, H * D)), 0, 0)
        ran = acc.counters()
        out["fast_calls"] = [ran.get((op, "fast"), 0) for op in ("linear", "split_heads", "merge_heads")]
        return out


@probe("block")
def fused_cached_block(rng):
    """Kata 14's cached generation under the fast backend, block by block through the fused kernel: the logits of
    a chunked prefill and decode steps, the cache, the counters; then the three cases it must decline."""
    from tinytorch.autograd import no_grad
    from tinytorch.kv_cache import KVCache, cached_block, cached_forward
    from tinytorch.tensor import Tensor
    from tinytorch.transformer import GPT

    with _restored() as acc:
        n_head, head_dim = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        model = GPT(vocab_size=9, block_size=12, n_layer=2, n_head=n_head, n_embd=n_head * head_dim)
        for _, p in sorted(model.named_parameters(), key=lambda item: item[0]):
            p.data[...] = rng.normal(scale=0.5, size=p.shape).astype(np.float32)
        model.eval()
        ids = rng.integers(0, 9, size=(2, 9))
        chunks = ((0, 3), (3, 5), (5, 6), (6, 7), (7, 8), (8, 9))
        out = {}
        for name in ("reference", "fast"):
            cache = KVCache.for_model(model, 2)
            acc.reset_counters()
            with acc.backend(name):
                logits = [cached_forward(model, ids[:, a:b], cache).data for a, b in chunks]
            ran = acc.counters()
            out[name] = {"logits": logits, "k": [t.data for t in cache.k], "v": [t.data for t in cache.v],
                         "fast_blocks": ran.get(("cached_block", "fast"), 0), "fast_linears": ran.get(("linear", "fast"), 0)}
        declined = {}
        block = model.blocks[0]
        x = _values(rng, (1, 2, n_head * head_dim), 1.0)
        for case in ("grad", "training", "float64"):
            cache = KVCache.for_model(model, 1)
            xt = Tensor(x.astype(np.float64) if case == "float64" else x)
            saved = [p.data for p in block.parameters()]
            try:
                if case == "float64":
                    for p in block.parameters():
                        p.data = p.data.astype(np.float64)
                    cache = KVCache(2, 1, n_head, 12, head_dim, dtype=np.float64)
                if case == "training":
                    block.train()
                with (no_grad() if case != "grad" else contextlib.nullcontext()):
                    kernel = acc.cached_block_kernel(block, xt, cache, 0)
                    acc.reset_counters()
                    with acc.backend("fast"):
                        got = cached_block(block, xt, cache, 0)
                ran = acc.counters()
                declined[case] = {"kernel": "NotImplemented" if kernel is NotImplemented else type(kernel).__name__,
                                  "out": got.data, "dtype": str(got.data.dtype), "recorded": got.node is not None,
                                  "ran": [ran.get(("cached_block", "reference"), 0), ran.get(("cached_block", "fast"), 0)]}
            finally:
                block.eval()
                for p, data in zip(block.parameters(), saved):
                    p.data = data
        out["declined"] = declined
        return out


@probe("cnn")
def fast_convolution_and_pooling(rng):
    from tinytorch.spatial import conv2d, max_pool2d
    from tinytorch.tensor import Tensor

    with _restored() as acc:
        out = {}
        acc.reset_counters()
        for i in range(2):
            n, c, o = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
            k, stride, padding = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2))
            h, w = int(rng.integers(k + 2, 8)), int(rng.integers(k + 2, 8))
            arrays = [rng.uniform(-2, 2, (n, c, h, w)), rng.uniform(-1, 1, (o, c, k, k)), rng.uniform(-1, 1, o) if i == 0 else None]
            for dtype, rtol, atol in ((np.float64, 1e-7, 1e-9), (np.float32, 1e-4, 1e-4)):  # 10× the tests' float32 tolerance
                cast = [None if a is None else a.astype(dtype) for a in arrays]
                ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
                out[f"conv{i}_{np.dtype(dtype).name}"] = _fast_and_same(
                    lambda x, wt, b: conv2d(x, wt, b, stride=stride, padding=padding), cast, rng.normal(size=(n, o, ho, wo)),
                    rtol, atol, grad_of=[0, 1, 2] if i == 0 else [0, 1])
        x = np.maximum(rng.integers(-2, 3, (2, 2, int(rng.integers(2, 8)), int(rng.integers(2, 8)))), 0).astype(np.float32)
        up = rng.normal(size=(2, 2, x.shape[2] // 2, x.shape[3] // 2))
        out["pool_ties"] = _fast_and_same(lambda t: max_pool2d(t, 2), [x], up, 0, 0)
        y = rng.normal(size=(1, 2, 6, 6)).astype(np.float32)
        acc.reset_counters()
        out["pool2"] = _fast_and_same(lambda t: max_pool2d(t, 2), [y], rng.normal(size=(1, 2, 3, 3)), 0, 0)
        out["pool3"] = _fast_and_same(lambda t: max_pool2d(t, 3), [y], rng.normal(size=(1, 2, 2, 2)), 0, 0)
        out["pool_stride1"] = _fast_and_same(lambda t: max_pool2d(t, 2, stride=1), [y], rng.normal(size=(1, 2, 5, 5)), 0, 0)
        out["pool_calls"] = sorted(f"{name}/{calls}" for (op, name), calls in acc.counters().items() if op == "max_pool2d")
        image = Tensor(rng.normal(size=(1, 1, 4, 4)).astype(np.float32))
        weight = Tensor(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), requires_grad=True)
        with acc.backend("fast"):
            conv2d(image, weight).sum().backward()
            filters = Tensor(rng.normal(size=(3, 2, 3, 3)).astype(np.float32))
            a = conv2d(Tensor(rng.normal(size=(2, 2, 5, 5)).astype(np.float32)), filters, padding=1)
            kept = a.data.copy()
            b = conv2d(Tensor(rng.normal(size=(2, 2, 5, 5)).astype(np.float32)), filters, padding=1)
        out["no_input_grad"] = [image.grad is None, weight.grad is not None and weight.grad.dtype == np.float32]
        out["live_outputs_kept"] = bool(np.array_equal(a.data, kept) and b.shape == a.shape)
        return out


@probe("threads")
def blas_thread_control(rng):
    import os
    import sys
    import warnings

    from threadpoolctl import threadpool_info

    from tinytorch.acceleration import blas_threads, thread_count

    def counts():
        return {info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"}

    before = max(counts())
    target = 2 if before == 1 else 1
    reads = {"thread_count": thread_count() == before}
    with blas_threads(target):
        reads["inside"] = counts() == {target} and thread_count() == target
    reads["after"] = max(counts()) == before
    errors = []
    try:
        with blas_threads(target):
            raise KeyError("inside the block")
    except KeyError:
        errors.append("KeyError")
    reads["after_error"] = max(counts()) == before
    try:
        with blas_threads(0):
            pass
        errors.append("")
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001
        errors.append(error_name(error))
    value = str(int(rng.integers(2, 9)))
    saved_module, saved_env = sys.modules.get("threadpoolctl"), os.environ.get("OPENBLAS_NUM_THREADS")
    ran = []
    try:
        sys.modules["threadpoolctl"] = None  # `import threadpoolctl` now raises ImportError
        os.environ["OPENBLAS_NUM_THREADS"] = value
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with blas_threads(1):
                ran.append(True)
        fallback = {"warned": any(issubclass(w.category, RuntimeWarning) and "threadpoolctl" in str(w.message) for w in caught),
                    "ran": ran == [True], "from_environment": thread_count() == int(value)}
    finally:
        if saved_module is None:
            sys.modules.pop("threadpoolctl", None)
        else:
            sys.modules["threadpoolctl"] = saved_module
        if saved_env is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved_env
    return {"reads": reads, "errors": errors, "fallback": fallback}
