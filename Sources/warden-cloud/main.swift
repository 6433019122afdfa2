import WardenCloudCLI

await WardenCloudCommand.start()
