"""Cloud provisioning: one provider interface per capability (`base.py`), one package per
provider split the same way (`client`, `compute`, `networks`, `catalogue`), chosen by
`cloud_service_code` (`providers.py`)."""
