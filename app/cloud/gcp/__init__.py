"""Google Compute Engine through `google-cloud-compute` (REST transport).

Ids: an instance is addressed by project, zone and name, so `Instance.id` is
"<zone>/<name>" (e.g. "us-central1-a/web-1"); a network is its name (networks are
global); a subnet is "<region>/<name>". The project comes from the service account key.

Long-running calls answer with an Operation. The library's own waiting (`ExtendedOperation`)
builds its operations client without our `client_options`, so it would poll the public
endpoint whatever we configured: we call the `*_unary` methods and poll the zone, region
or global operation ourselves with clients that share our endpoint.

Layout: `client` (what the capabilities share), `compute`, `networks`, `catalogue`;
this package re-exports the names other code imports.
"""

from __future__ import annotations

from app.cloud.gcp.catalogue import GcpCatalogue
from app.cloud.gcp.client import default_zone, image_family
from app.cloud.gcp.compute import GcpCompute
from app.cloud.gcp.networks import GcpNetworks

__all__ = ["GcpCatalogue", "GcpCompute", "GcpNetworks", "default_zone", "image_family"]
