import WardenCLI

await WardendCommand.start()
