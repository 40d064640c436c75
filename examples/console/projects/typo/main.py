def greet():
    print(mesage)


mesage_text = "Hello from the console!"
greet()
