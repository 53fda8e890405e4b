"""Local servers that speak the payment providers' wire protocols, for tests, the bench and
the browser test. Never wired into the site's URLs; production does not import them."""
