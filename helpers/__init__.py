"""vae-latent-lab helpers: the one shared package behind the notebooks (``pip install -e .``).

Modules, in the one direction data flows (a module never imports one to its right):

    config -> data -> shapes -> images -> vae -> image_vae -> cvae -> sampler -> checkpoint -> model -> classifier
           -> train -> latent -> metrics -> disentanglement -> evaluation -> plots -> widgets
    grading (the references notebook 02's test cells check a task against; imports no other module)

- ``config``    : project paths, default checkpoints by name, the smoke-mode switch, the one table of
                  parameter rules (``check_parameters``)
- ``data``      : Fashion-MNIST loading (download or offline folder), [-1, 1] scaling, class names
                  and colours, finding an item by index or class
- ``shapes``    : shapes64, the dSprites factor grid (737,280 binary 64 x 64 images, 5 known
                  factors) drawn by the project's own code; a fixed train/test split
- ``images``    : ``load_images(dataset, split)``, the one loader of notebook 06: shapes64, your own
                  folder (``folder:PATH``), cifar10 / celeba (online), Fashion-MNIST
- ``vae``       : the VAE notebook 02 teaches (model, reparameterization, loss terms, one training
                  epoch, evaluation, the epoch loop ``fit``), EXPORTED from the notebook by
                  tools/export_lesson.py: edit the notebook
- ``image_vae`` : the lesson's model extended for notebooks 04-06 and the public API: other image
                  shapes, the Bernoulli decoder, a fitted sampler; ``model_loss`` for all of them
- ``cvae``      : the conditional VAE (notebook 05): the class given to encoder, decoder and prior
- ``sampler``   : the Gaussian mixture fitted to the training codes, a better sampler than the prior
- ``checkpoint``: save / load / export with atomic writes and a format version
- ``model``     : the public facade: ``from helpers.model import load_checkpoint`` and the rest of
                  the model API in one import
- ``classifier``: the small judge CNN that checks whether reconstructions and samples keep their class
- ``train``     : seeding, device choice, the recipe (learning-rate schedule, log sigma's rate,
                  precision), ``TrainingRun`` (progress, seeded batches, history, checkpoints, exact
                  resume, NaN stop: the small calls of 02's loop) and ``train_vae`` for the package's
                  models through 02's own ``fit``
- ``latent``    : encoding a dataset, PCA / t-SNE, lerp / slerp, class means, 2-D manifold grids
- ``metrics``   : class separation (kNN, linear probe, silhouette, confusion), active units
- ``disentanglement``: codes against known factors (notebook 06): the mutual information gap
                  (MIG), mutual information and entropy of discrete values, IoU of binary masks
- ``evaluation``: a whole model's figures (notebook 05, the README's results, the study):
                  importance-weighted log p(x), reconstruction error and class kept, sample
                  quality (Frechet distance, class match)
- ``plots``     : image grids, class-coloured scatter, loss curves, confusion heatmaps
- ``widgets``   : the live latent explorer (ipywidgets)
- ``grading``   : reference KL and Gaussian likelihood and a stand-in model, so that the test of one of
                  notebook 02's tasks does not depend on another
"""
