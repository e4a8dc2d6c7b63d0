"""The shipped data (fonts, icons) as a package, so ``importlib.resources.files("stretchbox.assets")`` finds it."""
