"""parse / load: text → syntax → checked Model (placeholder until the front end lands)."""


def parse(text: str, name: str = "<string>"):
    raise NotImplementedError("the front end is being built")


def load(path):
    raise NotImplementedError("the front end is being built")
