"""vae-latent-lab helpers: the one shared package behind the four notebooks.

Modules, in the one direction data flows (a module never imports one to its right):

    config -> data -> model -> train -> latent -> metrics -> plots -> widgets

- ``config``  : project paths, parameter checks (``check_*``), the smoke-test switch
- ``data``    : Fashion-MNIST loading (download or offline folder), [-1, 1] scaling, class names
- ``model``   : the (conditional) convolutional VAE, loss terms, checkpoint save / load
- ``train``   : seeding, device choice, the training loop (tqdm, history, resume)
- ``latent``  : encoding a dataset, PCA / t-SNE, lerp / slerp
- ``metrics`` : latent kNN accuracy, class separation, test ELBO
- ``plots``   : image grids, class-coloured scatter, loss curves, interpolation strips
- ``widgets`` : the live latent explorer (ipywidgets)
"""

__version__ = "0.1.0"
