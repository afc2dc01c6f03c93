"""Files nncli ships, mapped here from the checkout's top-level folders by pyproject.toml:
`nncli.shipped.data` is data/ (the built-in datasets), `nncli.shipped.configs` is configs/
(the example configs). Read them through nncli.resources."""
