import WardenCLI

await WardenCtl.start()
