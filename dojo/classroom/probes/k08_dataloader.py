"""Probes for kata 08 (Data loading): TensorDataset, DataLoader (batching, seeded shuffles,
drop_last), Normalize/Compose and the random augmentations. A shuffle's order is not pinned
(only its properties are), so the probes return those properties, never the order itself."""

import numpy as np

from dojo.classroom.probes import probe


def _dataset(rng, n=10):
    from tinytorch.data import TensorDataset

    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = rng.integers(0, 5, size=n)
    return TensorDataset(x, y), x, y


@probe("dataset")
def dataset(rng):
    from tinytorch.data import TensorDataset

    ds, x, y = _dataset(rng)
    doubled = TensorDataset(x, y, transform=lambda v: v * 2)
    return {"len": len(ds), "item": ds[3], "last": ds[-1], "transformed": doubled[2]}


@probe("dataset")
def dataset_rejects_unequal_lengths(rng):
    from tinytorch.data import TensorDataset

    return TensorDataset(np.zeros((3, 2)), np.zeros(int(rng.integers(4, 8))))


@probe("dataloader")
def dataloader_batches(rng):
    from tinytorch.data import DataLoader

    ds, _, _ = _dataset(rng, n=10)
    batches = list(DataLoader(ds, batch_size=4))
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    return {"x": [b[0] for b in batches], "y": [b[1] for b in batches], "len": len(DataLoader(ds, batch_size=3)),
            "len_drop": len(dropped), "drop_sizes": [len(b[1].data) for b in dropped]}


@probe("shuffle")
def shuffle_properties(rng):
    from tinytorch.data import DataLoader, TensorDataset

    n = int(rng.integers(12, 30))
    ds = TensorDataset(np.arange(n))
    seed = int(rng.integers(0, 2**31))

    def epochs(loader, count=3):
        return [np.concatenate([batch[0].data for batch in loader]).tolist() for _ in range(count)]

    first, again = epochs(DataLoader(ds, batch_size=5, shuffle=True, seed=seed)), epochs(DataLoader(ds, batch_size=5, shuffle=True, seed=seed))
    generator = epochs(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(seed)))
    return {"each_once": all(sorted(order) == list(range(n)) for order in first + generator),
            "epochs_differ": first[0] != first[1], "repeatable": first == again, "shuffled": first[0] != list(range(n))}


@probe("normalize")
def normalize_and_compose(rng):
    from tinytorch.data import Compose, Normalize

    image = rng.normal(size=(3, 4, 4)).astype(np.float32)
    mean, std = rng.normal(size=3).round(2).tolist(), rng.uniform(0.5, 2.0, size=3).round(2).tolist()
    norm = Normalize(mean, std)
    out = norm(image)
    return {"out": out, "dtype": str(out.dtype), "composed": Compose([norm, lambda v: v * 2])(image), "input_kept": image}


@probe("normalize")
def normalize_rejects_zero_std(rng):
    from tinytorch.data import Normalize

    return Normalize([0.0, 0.0], [1.0, -float(rng.uniform(0, 1))])


@probe("augment")
def augmentations(rng):
    from tinytorch.data import RandomCrop, RandomHorizontalFlip

    image = rng.normal(size=(2, 5, 6)).astype(np.float32)
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    crop = RandomCrop(3, padding=1, seed=int(rng.integers(0, 1000)))(image)
    windows = [padded[:, i:i + 3, j:j + 3] for i in range(padded.shape[1] - 2) for j in range(padded.shape[2] - 2)]
    return {"full": RandomCrop(5, padding=0, seed=1)(image[:, :, :5]), "padded_full": RandomCrop(7, padding=1, seed=2)(image[:, :5, :5]),
            "crop_is_a_window": any(np.array_equal(crop, w) for w in windows), "crop_shape": list(crop.shape),
            "flip": RandomHorizontalFlip(p=1.0, seed=3)(image), "no_flip": RandomHorizontalFlip(p=0.0, seed=3)(image)}
