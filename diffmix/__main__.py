from diffmix.cli import app

app()
