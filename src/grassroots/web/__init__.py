"""The pages people use every day: grid worker phone pages, the console, the public portal."""
