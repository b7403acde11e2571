"""Installs python/spex with a copy of the model schema
(proto/spex/v1/model.proto), so an installed package finds it without a
checkout: pip install --no-build-isolation ./python"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "proto", "spex", "v1", "model.proto")


class BuildWithSchema(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "spex", "proto", "spex", "v1")
        os.makedirs(target, exist_ok=True)
        shutil.copy(SCHEMA, target)


setup(cmdclass={"build_py": BuildWithSchema})
