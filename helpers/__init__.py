"""vae-latent-lab helpers: the one shared package behind the four notebooks.

Modules, in the one direction data flows (a module never imports one to its right):

    config -> data -> model (and classifier) -> train -> latent -> metrics -> plots -> widgets

- ``config``  : project paths, parameter checks (``check_*``), the smoke-test switch
- ``data``    : Fashion-MNIST loading (download or offline folder), [-1, 1] scaling, class names
- ``model``   : the (conditional) convolutional VAE, likelihoods, loss terms, the mixture sampler,
                checkpoint save / load
- ``classifier``: the small judge CNN that checks whether reconstructions and samples keep their class
- ``train``   : seeding, device choice, the training loop (tqdm, history, resume)
- ``latent``  : encoding a dataset, fitting the sampler, PCA / t-SNE, lerp / slerp, class means,
                2-D manifold grids
- ``metrics`` : class separation (kNN, linear probe, silhouette), importance-weighted log p(x),
                active units, reconstruction error, sample quality (Frechet distance, class match)
- ``plots``   : image grids, class-coloured scatter, loss curves, confusion heatmaps
- ``widgets`` : the live latent explorer (ipywidgets)
"""

__version__ = "0.1.0"
