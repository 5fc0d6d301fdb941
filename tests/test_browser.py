"""The step-through page in a real browser: headless Chromium steps through it with the arrow keys.

After every key press the test reads the DOM: the step shown, the values and
gradients visible so far, the highlighted gate, the note and the stage
table's lit row. Then a screenshot, checked not to be blank. Needs selenium
(the test extra) and Debian's chromium and chromium-driver (.ci/run installs
them as it installs Graphviz); skipped with that reason where they are absent.

BPCLI_SCREENSHOT=docs/step-through.png python -m pytest tests/test_browser.py
keeps the screenshot (README's picture comes from this run).
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

import bpcli
from bpcli.views.page import page

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,  # a browser starts: seconds
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                       reason="headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)"),
]

STAGED = "q = x + y; f = q * z"
NOTES_EXAMPLE = ("sigy = sigmoid(y)\nnum = x + sigy\nsigx = sigmoid(x)\nxpy = x + y\nxpysqr = xpy**2\n"
                 "den = sigx + xpysqr\ninvden = 1 / den\nf = num * invden")

# What the page shows, read in the browser: the step, visible labels, the lit gate and table row, the note.
READ_STATE = """
const visible = el => getComputedStyle(el).visibility !== 'hidden' && getComputedStyle(el).display !== 'none';
const texts = cls => [...document.querySelectorAll('svg text.' + cls)].filter(visible).map(t => t.textContent);
const lit = [...document.querySelectorAll('g.current text.caption')].map(t => t.textContent);
const row = [...document.querySelectorAll('tr.current td:nth-child(2)')].map(t => t.textContent);
const note = [...document.querySelectorAll('.note')].filter(visible).map(n => n.textContent);
return {step: document.body.dataset.step, where: document.getElementById('where').textContent,
        values: texts('value').sort(), gradients: texts('grad').sort(), lit: lit, row: row, note: note};
"""


# The browser decodes the screenshot itself (a canvas) and counts its colours: no image library needed.
COUNT_COLOURS = """
const done = arguments[arguments.length - 1];
const image = new Image();
image.onload = () => {
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  let ink = 0, red = 0, green = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    colours.add((r << 16) | (g << 8) | b);
    if (r + g + b < 600) ink++;
    if (r > 150 && g < 90 && b < 90) red++;
    if (g > 100 && r < 80 && b < 100) green++;
  }
  done({width: image.width, height: image.height, colours: colours.size, ink: ink, red: red, green: green});
};
image.src = 'data:image/png;base64,' + arguments[0];
"""


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1600,1000", "--hide-scrollbars"):
        options.add_argument(argument)
    # The driver is named, so selenium never looks for one on the network.
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def opened(browser, tmp_path: Path, result) -> None:
    target = tmp_path / "circuit.html"
    target.write_text(page(result), encoding="utf-8")
    browser.get(target.as_uri())


def press(browser, key: str) -> dict:
    from selenium.webdriver.common.by import By

    browser.find_element(By.TAG_NAME, "body").send_keys(key)
    return browser.execute_script(READ_STATE)


def test_arrow_keys_step_forward_then_backward(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    opened(browser, tmp_path, bpcli.grad(STAGED, x=-2, y=5, z=-4))
    state = browser.execute_script(READ_STATE)
    assert (state["step"], state["where"], state["values"], state["gradients"], state["lit"]) == (
        "0", "step 0 of 5", ["-2", "-4", "5"], [], [])
    expected = [  # (values shown, gradients shown, lit gate, lit table row, a phrase of the note)
        (["-2", "-4", "3", "5"], [], ["q = x + y"], ["q"], "q = 3"),
        (["-12", "-2", "-4", "3", "5"], [], ["f = q * z"], ["f"], "f = -12"),
        (["-12", "-2", "-4", "3", "5"], ["1"], [], [], "It starts at the output: df = 1"),
        (["-12", "-2", "-4", "3", "5"], ["-4", "1", "3"], ["f = q * z"], ["f"], "∂f/∂q = z = -4"),
        (["-12", "-2", "-4", "3", "5"], ["-4", "-4", "-4", "1", "3"], ["q = x + y"], ["q"], "Done: dx = -4"),
    ]
    for step, (values, gradients, lit, row, phrase) in enumerate(expected, start=1):
        state = press(browser, Keys.ARROW_RIGHT)
        assert state["step"] == str(step) and state["where"] == f"step {step} of 5"
        assert (state["values"], state["gradients"], state["lit"], state["row"]) == (values, gradients, lit, row)
        assert len(state["note"]) == 1 and phrase in state["note"][0]
    assert press(browser, Keys.ARROW_RIGHT)["step"] == "5"  # the last step stays
    back = press(browser, Keys.ARROW_LEFT)
    assert (back["step"], back["lit"], back["gradients"]) == ("4", ["f = q * z"], ["-4", "1", "3"])
    assert press(browser, Keys.HOME)["values"] == ["-2", "-4", "5"]


def test_buttons_step_too(browser, tmp_path):
    from selenium.webdriver.common.by import By

    opened(browser, tmp_path, bpcli.grad(STAGED, x=-2, y=5, z=-4))
    browser.find_element(By.ID, "last").click()
    assert browser.execute_script(READ_STATE)["step"] == "5"
    browser.find_element(By.ID, "back").click()
    assert browser.execute_script(READ_STATE)["lit"] == ["f = q * z"]
    browser.find_element(By.ID, "first").click()
    browser.find_element(By.ID, "next").click()
    assert browser.execute_script(READ_STATE)["lit"] == ["q = x + y"]


def test_screenshot_of_a_backward_step_is_not_blank(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    opened(browser, tmp_path, bpcli.grad(NOTES_EXAMPLE, x=3, y=-4))
    for _ in range(14):  # forward through all 8 gates, the seed, and back through 5 of them
        state = press(browser, Keys.ARROW_RIGHT)
    assert state["step"] == "14" and state["lit"] == ["xpy = x + y"], state
    assert "dx += 1.583" in state["note"][0] and "dy += 1.583" in state["note"][0]  # forks: x and y
    png = browser.get_screenshot_as_png()
    census = browser.execute_async_script(COUNT_COLOURS, base64.b64encode(png).decode())
    viewport = browser.execute_script("return [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]")
    assert [census["width"], census["height"]] == viewport
    assert census["colours"] > 50  # text, boxes, green and red labels: not one flat colour
    assert census["ink"] > 0.01 * census["width"] * census["height"]  # more than stray pixels are not white
    assert census["red"] > 20 and census["green"] > 20  # gradients and values drawn in their colours
    keep = os.environ.get("BPCLI_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(png)
