"""The baseline: a bare Flask "hello" served the same way as Parity."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello"
